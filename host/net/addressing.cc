// Per-VM names and addresses.
#include "host/net/addressing.h"

namespace ember::host::net {

std::string guest_kernel_args() {
  return "ip=" + format_ipv4(kGuestIp) + "::" + format_ipv4(kGatewayIp) + ":" +
         format_ipv4(prefix_mask(kGuestPrefixLen)) + "::eth0:off";
}

std::string netns_name(uint32_t index) { return "ember-vm-" + std::to_string(index); }

std::string netns_path(uint32_t index) { return "/run/netns/" + netns_name(index); }

std::string host_ifname(uint32_t index) { return "emb" + std::to_string(index); }

uint32_t host_veth_ip(uint32_t index) {
  return kVmNetwork | (index / 64) << 8 | ((index % 64) * 4 + 1);
}

uint32_t netns_veth_ip(uint32_t index) { return host_veth_ip(index) + 1; }

}  // namespace ember::host::net
