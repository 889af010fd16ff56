// RestoreBreakdown: where one restore's time goes, from ember-vmm's debug log and the host clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "host/pool.h"
#include "host/restored_vm.h"

namespace ember::bench {

struct RestoreStep {
  std::string name;
  double ms = 0;
};

struct RestoreBreakdown {
  // In order, from the restore request to the agent's RefreshAck; they add up to total_ms.
  std::vector<RestoreStep> steps;
  double total_ms = 0;                 // restore-to-ready
  uint32_t connect_tries = 0;          // vsock sessions opened until one was refreshed
  std::vector<std::string> vmm_lines;  // ember-vmm's own timing lines, as printed
  // For scale, measured just after (the VM gone): spawn -> exit of `ember-vmm --help` (exec,
  // the static binary's start-up and flag parsing, no KVM).
  double vmm_help_ms = 0;
};

// ember-vmm's timing lines from a restore at --log-level debug (vmm/vmm_restore.cc,
// vmm/vcpu_runner.cc).
struct VmmRestoreLog {
  std::vector<RestoreStep> steps;  // "restore: <step> took N us", in order
  double restored_ms = 0;          // "restored in N us": all steps plus the control socket
  double main_to_run_ms = 0;       // "first KVM_RUN after N us": the VMM's main() -> KVM_RUN
  int64_t first_run_ns = 0;        // its "(monotonic N ns)"
  std::vector<std::string> lines;  // the matching lines, as printed
};

// An error unless every kind of line is there.
Result<VmmRestoreLog> parse_vmm_restore_log(const std::string& output);

// Restores spec once as emberd does, on a standby VMM (`ember-vmm --standby --log-level
// debug`, started and listening first, untimed), opening the agent session and sending
// Refresh itself so that the connect and the Refresh round trip are timed apart. The VM is
// destroyed, then `ember-vmm --help` is timed.
Result<RestoreBreakdown> measure_restore_breakdown(const host::SnapshotSpec& spec,
                                                   const host::RestoredVmOptions& options);

}  // namespace ember::bench
