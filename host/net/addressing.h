// Clone-safe guest addressing (the same in every VM) and the per-VM names and addresses.
#pragma once

#include <cstdint>
#include <string>

#include "host/net/ipv4.h"

namespace ember::host::net {

// Inside every VM: eth0 is 172.16.0.2/30 with this MAC; its gateway is the VM netns' tap0.
inline constexpr uint32_t kGuestIp = ipv4(172, 16, 0, 2);
inline constexpr uint32_t kGatewayIp = ipv4(172, 16, 0, 1);
inline constexpr uint8_t kGuestPrefixLen = 30;
inline constexpr const char* kGuestMac = "06:00:ac:10:00:02";
inline constexpr const char* kTapMac = "06:00:ac:10:00:01";
inline constexpr const char* kTapName = "tap0";
// The netns end of the veth pair.
inline constexpr const char* kNetnsVethName = "veth0";

// VM indexes are 0..kMaxVms-1: each takes a /30 of 10.200.0.0/16.
inline constexpr uint32_t kMaxVms = 16384;
inline constexpr uint32_t kVmNetwork = ipv4(10, 200, 0, 0);
inline constexpr uint8_t kVmNetworkPrefixLen = 16;

// The guest kernel's command-line argument configuring eth0 at boot (CONFIG_IP_PNP):
// "ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off".
std::string guest_kernel_args();

// "ember-vm-<index>" and its bind mount "/run/netns/ember-vm-<index>".
std::string netns_name(uint32_t index);
std::string netns_path(uint32_t index);
// "emb<index>": the host end of the VM's veth pair (at most 8 characters).
std::string host_ifname(uint32_t index);
// 10.200.<index/64>.<(index%64)*4+1>: the host end; the netns end is the next address.
uint32_t host_veth_ip(uint32_t index);
uint32_t netns_veth_ip(uint32_t index);
inline constexpr uint8_t kVethPrefixLen = 30;

}  // namespace ember::host::net
