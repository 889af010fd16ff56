// The nftables rules of Ember's networking, rendered as nft text (no kernel access here).
#pragma once

#include <cstdint>
#include <string>

#include "host/net/egress_policy.h"

namespace ember::host::net {

struct NetworkConfig {
  uint32_t resolver = 0;               // IPv4 (host byte order) the VMs' DNS is sent to
  uint64_t bandwidth_bytes_per_s = 0;  // per VM and direction; 0: unlimited
  uint32_t max_connections = 0;        // per VM, tracked connections at once; 0: no cap
};

// The host's table: "table inet ember { ... }". NAT of 10.200.0.0/16 leaving through
// non-emb* interfaces; from emb*: to the host itself only DNS to the resolver, forwarded
// traffic limited (bandwidth, connections), and every packet judged by the VM's policy:
// map `egress` (iifname -> policy id), then map `policies` (id -> jump <policy chain>).
// Unassigned interfaces, VM-to-VM and unsolicited traffic to a VM are refused. Refusals
// are TCP resets or ICMP admin-prohibited. Holds no policy chain.
std::string host_ruleset(const NetworkConfig& config);

// The chain a policy is judged by: "egress_none", "egress_internet", or "egress_" and 16
// hex digits of a hash of the canonical policy text (the same across runs).
std::string policy_chain_name(const EgressPolicy& policy);

// "table inet ember { chain <policy_chain_name> { ... } }": adds the chain to the host's
// table. DNS to the resolver is accepted first, except for "none".
std::string policy_chain(const EgressPolicy& policy, uint32_t resolver);

// Commands (one a line) making policy_id stand for a chain in map `policies`, and undoing
// that with the chain. Ids are any non-zero numbers the caller keeps unique.
std::string add_policy_command(uint32_t policy_id, const std::string& chain);
std::string delete_policy_commands(uint32_t policy_id, const std::string& chain);

// Adding or removing an interface's element of map `egress`.
std::string assign_command(const std::string& host_ifname, uint32_t policy_id);
std::string unassign_command(const std::string& host_ifname);

// Inside a VM's netns: DNS to the gateway (udp/tcp 53 to 172.16.0.1) DNATed to the
// resolver, guest traffic masqueraded out of veth0, and TCP from tap0 that conntrack finds
// invalid (connections from before a snapshot restore) answered with a TCP reset.
std::string netns_ruleset(uint32_t resolver);

}  // namespace ember::host::net
