// nft text for the host table, the egress policy chains and each VM netns' table.
#include "host/net/nft_rules.h"

#include <cstdio>

#include "host/net/addressing.h"

namespace ember::host::net {
namespace {

// What "internet" refuses: this network, private (including the VMs' 10.200/16), CGNAT,
// loopback, link-local (169.254.169.254 too), multicast and reserved. One rule each: the
// policy chains hold no anonymous sets, as libnftables fetches every such set's elements
// before each command and assign() must stay fast.
constexpr const char* kNonInternet[] = {"0.0.0.0/8",      "10.0.0.0/8",     "100.64.0.0/10",
                                        "127.0.0.0/8",    "169.254.0.0/16", "172.16.0.0/12",
                                        "192.168.0.0/16", "224.0.0.0/4",    "240.0.0.0/4"};

// Looks up the interface's policy id (no element: the rule stops there) and jumps to the
// policy's chain. The mark is free to use here: crossing from the VM's netns cleared it,
// and the policy chains set it back to 0.
constexpr const char* kJudge = "meta mark set iifname map @egress meta mark vmap @policies";

// nft text, one line at a time: add(depth, line) appends depth tabs, the line and "\n".
class Lines {
 public:
  Lines& add(int depth, const std::string& line) {
    text_.append(static_cast<size_t>(depth), '\t');
    text_ += line;
    text_ += '\n';
    return *this;
  }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

// A bare address for /32, as nft prints it.
std::string cidr(uint32_t network, uint8_t prefix_len) {
  return prefix_len == 32 ? format_ipv4(network) : format_cidr(network, prefix_len);
}

std::string quoted(const std::string& name) { return '"' + name + '"'; }

// The rules accepting what one allowlist entry names.
void add_rule(Lines& lines, const EgressRule& rule) {
  const std::string daddr = "ip daddr " + cidr(rule.network, rule.prefix_len);
  if (rule.all_ports()) {
    lines.add(2, daddr + " accept");
    return;
  }
  std::string ports = std::to_string(rule.port_first);
  if (rule.port_last != rule.port_first) {
    ports += '-';
    ports += std::to_string(rule.port_last);
  }
  lines.add(2, daddr + " tcp dport " + ports + " accept");
  lines.add(2, daddr + " udp dport " + ports + " accept");
}

// A set of VM addresses filled by the rules (a connection count or a rate per VM).
void add_dynamic_set(Lines& lines, const std::string& name, bool expires) {
  lines.add(1, "set " + name + " {");
  lines.add(2, "type ipv4_addr; size " + std::to_string(kMaxVms) + "; flags dynamic" +
                   (expires ? ",timeout; timeout 1m;" : ";"));
  lines.add(1, "}");
}

// FNV-1a, 64 bits: a stable name for a policy's chain.
uint64_t fnv1a(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::string host_ruleset(const NetworkConfig& config) {
  const std::string resolver = format_ipv4(config.resolver);
  const std::string rate = std::to_string(config.bandwidth_bytes_per_s) + " bytes/second";
  const bool limit_rate = config.bandwidth_bytes_per_s > 0;
  Lines l;
  l.add(0, "table inet ember {");
  // Two levels, so that assigning a policy to a VM changes integer data only: the kernel
  // re-validates every jump of a verdict map on each change, which would make assign()
  // slower with every VM.
  l.add(1, "map egress {").add(2, "type ifname : mark").add(1, "}");     // VM -> policy id
  l.add(1, "map policies {").add(2, "type mark : verdict").add(1, "}");  // id -> jump chain
  add_dynamic_set(l, "vm_conns", false);
  add_dynamic_set(l, "vm_up", true);
  add_dynamic_set(l, "vm_down", true);

  l.add(1, "chain postrouting {");
  l.add(2, "type nat hook postrouting priority srcnat; policy accept;");
  l.add(2, "ip saddr " + cidr(kVmNetwork, kVmNetworkPrefixLen) + " oifname != \"emb*\" masquerade");
  l.add(1, "}");

  l.add(1, "chain input {");
  l.add(2, "type filter hook input priority filter; policy accept;");
  l.add(2, "iifname \"emb*\" jump input_from_vm");
  l.add(1, "}");
  // A VM reaches the host itself only for DNS, and only if its policy allows DNS. Like
  // from_vm, every packet is judged: no "established" shortcut (see there).
  l.add(1, "chain input_from_vm {");
  l.add(2, "ip daddr " + resolver + " udp dport 53 " + kJudge);
  l.add(2, "ip daddr " + resolver + " tcp dport 53 " + kJudge);
  l.add(2, "goto refuse");
  l.add(1, "}");

  l.add(1, "chain forward {");
  l.add(2, "type filter hook forward priority filter; policy accept;");
  l.add(2, "iifname \"emb*\" jump from_vm");
  l.add(2, "oifname \"emb*\" jump to_vm");
  l.add(1, "}");
  // Every packet a VM sends is judged by its current policy, not only new flows: conntrack
  // entries outlive a VM, and a clone reusing its index (same address, same source ports as
  // the clone before it) must not inherit its flows. Policy changes also apply at once.
  // Only replies (to_vm) are let in by conntrack state.
  l.add(1, "chain from_vm {");
  l.add(2, "meta nfproto ipv6 goto refuse");
  if (limit_rate) l.add(2, "update @vm_up { ip saddr limit rate over " + rate + " } drop");
  l.add(2, "ct state invalid drop");
  l.add(2, "oifname \"emb*\" goto refuse");  // no VM-to-VM traffic, whatever the policy
  if (config.max_connections > 0) {
    l.add(2, "ct state new add @vm_conns { ip saddr ct count over " +
                 std::to_string(config.max_connections) + " } goto refuse");
  }
  l.add(2, kJudge);
  l.add(2, "goto refuse");  // no policy assigned
  l.add(1, "}");
  l.add(1, "chain to_vm {");
  if (limit_rate) l.add(2, "update @vm_down { ip daddr limit rate over " + rate + " } drop");
  l.add(2, "ct state established,related accept");
  l.add(2, "drop");
  l.add(1, "}");

  l.add(1, "chain refuse {");
  l.add(2, "meta l4proto tcp reject with tcp reset");
  l.add(2, "reject with icmpx admin-prohibited");
  l.add(1, "}");
  l.add(0, "}");
  return l.take();
}

std::string policy_chain_name(const EgressPolicy& policy) {
  switch (policy.kind) {
    case EgressPolicy::Kind::kNone:
      return "egress_none";
    case EgressPolicy::Kind::kInternet:
      return "egress_internet";
    case EgressPolicy::Kind::kAllowlist:
      break;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(fnv1a(format_egress_policy(policy))));
  return std::string("egress_") + hex;
}

std::string policy_chain(const EgressPolicy& policy, uint32_t resolver) {
  Lines l;
  l.add(0, "table inet ember {");
  l.add(1, "chain " + policy_chain_name(policy) + " {");
  l.add(2, "meta mark set 0");
  if (policy.kind != EgressPolicy::Kind::kNone) {
    l.add(2, "ip daddr " + format_ipv4(resolver) + " udp dport 53 accept");
    l.add(2, "ip daddr " + format_ipv4(resolver) + " tcp dport 53 accept");
  }
  switch (policy.kind) {
    case EgressPolicy::Kind::kNone:
      l.add(2, "goto refuse");
      break;
    case EgressPolicy::Kind::kInternet:
      for (const char* range : kNonInternet)
        l.add(2, "ip daddr " + std::string(range) + " goto refuse");
      l.add(2, "accept");
      break;
    case EgressPolicy::Kind::kAllowlist:
      for (const EgressRule& rule : policy.allow) add_rule(l, rule);
      l.add(2, "goto refuse");
      break;
  }
  l.add(1, "}");
  l.add(0, "}");
  return l.take();
}

std::string add_policy_command(uint32_t policy_id, const std::string& chain) {
  return "add element inet ember policies { " + std::to_string(policy_id) + " : jump " + chain +
         " }\n";
}

std::string delete_policy_commands(uint32_t policy_id, const std::string& chain) {
  return "delete element inet ember policies { " + std::to_string(policy_id) + " }\n" +
         "delete chain inet ember " + chain + "\n";
}

std::string assign_command(const std::string& host_ifname, uint32_t policy_id) {
  return "add element inet ember egress { " + quoted(host_ifname) + " : " +
         std::to_string(policy_id) + " }\n";
}

std::string unassign_command(const std::string& host_ifname) {
  return "delete element inet ember egress { " + quoted(host_ifname) + " }\n";
}

std::string netns_ruleset(uint32_t resolver) {
  const std::string from_guest =
      "iifname " + quoted(kTapName) + " ip daddr " + format_ipv4(kGatewayIp);
  const std::string to_resolver = " dport 53 dnat ip to " + format_ipv4(resolver);
  Lines l;
  l.add(0, "table inet ember {");
  l.add(1, "chain prerouting {");
  l.add(2, "type nat hook prerouting priority dstnat; policy accept;");
  l.add(2, from_guest + " udp" + to_resolver);
  l.add(2, from_guest + " tcp" + to_resolver);
  l.add(1, "}");
  l.add(1, "chain postrouting {");
  l.add(2, "type nat hook postrouting priority srcnat; policy accept;");
  l.add(2, "oifname " + quoted(kNetnsVethName) + " masquerade");
  l.add(1, "}");
  l.add(1, "chain forward {");
  l.add(2, "type filter hook forward priority filter; policy accept;");
  l.add(2,
        "iifname " + quoted(kTapName) + " meta l4proto tcp ct state invalid reject with tcp reset");
  l.add(1, "}");
  // The guest has no business with its namespace's own stack (the VMM lives there).
  l.add(1, "chain input {");
  l.add(2, "type filter hook input priority filter; policy accept;");
  l.add(2, "iifname " + quoted(kTapName) + " meta l4proto tcp reject with tcp reset");
  l.add(2, "iifname " + quoted(kTapName) + " reject with icmpx admin-prohibited");
  l.add(1, "}");
  l.add(0, "}");
  return l.take();
}

}  // namespace ember::host::net
