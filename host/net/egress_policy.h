// EgressPolicy: what a function's VM may reach ("none", "internet" or an allowlist), as text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ember::host::net {

// One allowlist entry: destinations network/prefix_len (host byte order, host bits zero).
// The default port range 0-65535 means every protocol (ICMP too); a narrower range, written
// with a port, allows TCP and UDP to those ports only.
struct EgressRule {
  uint32_t network = 0;
  uint8_t prefix_len = 32;
  uint16_t port_first = 0, port_last = 65535;

  bool all_ports() const { return port_first == 0 && port_last == 65535; }
  bool operator==(const EgressRule&) const = default;
  auto operator<=>(const EgressRule&) const = default;
};

struct EgressPolicy {
  // kNone: nothing (not even DNS). kInternet: public addresses only (no loopback,
  // link-local, private, CGNAT, multicast or reserved ranges) plus DNS to the resolver.
  // kAllowlist: only the `allow` entries (private ranges too if named) plus DNS.
  enum class Kind { kNone, kInternet, kAllowlist } kind = Kind::kInternet;
  std::vector<EgressRule> allow;  // kAllowlist only: sorted, no duplicates

  bool operator==(const EgressPolicy&) const = default;
};

inline constexpr size_t kMaxAllowlistEntries = 64;

// "none", "internet", or "CIDR[:PORT[-PORT]],..." where CIDR is a.b.c.d or a.b.c.d/len (a
// bare address is /32), at most 64 entries. Errors name the bad entry and the accepted forms.
Result<EgressPolicy> parse_egress_policy(std::string_view text);

// The canonical text: "none", "internet", or the sorted, deduplicated entries as
// "a.b.c.d/len[:p[-q]]" joined by ",". parse_egress_policy(format_egress_policy(p)) == p for
// every policy parse_egress_policy returns (an allowlist needs at least one entry).
std::string format_egress_policy(const EgressPolicy& policy);

}  // namespace ember::host::net
