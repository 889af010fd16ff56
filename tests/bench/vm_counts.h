// VmCounts: what a running ember-vmm counts ({"op":"stats"}: KVM's binary statistics for the
// VM and its vCPUs, the VMM's own exits by reason, its host page faults), flattened to
// "kvm.vcpus.pf_taken", "exits.io", "host_faults.minor", ..., and what an invocation adds.
// Counts, unlike times, do not depend on how emulated the machine is.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace ember::bench {

using VmCounts = std::map<std::string, uint64_t>;

// Parses a stats reply line into counts; an error for a reply that is not ok.
Result<VmCounts> parse_vm_counts(const std::string& reply);
// Asks the VMM behind api_sock for its stats.
Result<VmCounts> read_vm_counts(const std::string& api_sock);
// after - before for every count in both (0 where a count went down: a gauge, not a counter).
VmCounts counts_between(const VmCounts& before, const VmCounts& after);

// The counts the report shows, in this order, when the kernel offers them: guest page faults
// that reach KVM, VM exits (KVM's and ember-vmm's by reason), the VMM's host page faults.
const std::vector<std::string>& reported_counts();

}  // namespace ember::bench
