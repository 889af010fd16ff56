// VmNetns: one VM's network namespace (ember-vm-<i>) with its veth pair, rules and tap0.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::host::net {

class HostNetwork;

// Made by HostNetwork::create_vm, which must outlive it. Inside the netns: lo up, veth0
// (10.200.x.y+1/30, default route to the host end emb<i>), tap0 (06:00:ac:10:00:01,
// 172.16.0.1/30, up), ip_forward=1, IPv6 off, strict TCP conntrack and its nft table
// (nft_rules.h: netns_ruleset). Nothing is forwarded for it until HostNetwork::assign.
class VmNetns {
 public:
  VmNetns(VmNetns&& other) noexcept;
  VmNetns& operator=(VmNetns&& other) noexcept;
  VmNetns(const VmNetns&) = delete;
  VmNetns& operator=(const VmNetns&) = delete;
  // Unassigns its policy, closes the tap, deletes the veth pair and the netns, and frees
  // the index. A VMM still holding the tap or inside the netns keeps an orphan netns alive
  // until it exits, with no name and no link to the host, so the index is reusable at once.
  ~VmNetns();

  // The tap, opened inside the netns with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and O_CLOEXEC:
  // hand it to ember-vmm with a dup2 (--net-fd N). The vnet header size and offloads
  // (TUNSETVNETHDRSZ, TUNSETOFFLOAD) are the VMM's to set. -1 once taken.
  int tap_fd() const { return tap_.get(); }
  // Gives the tap away, to be closed once the VMM has its copy: the VMM is then its only
  // holder (a tap takes one attachment; emberd keeps no descriptor per VM).
  UniqueFd take_tap() { return std::move(tap_); }
  // "/run/netns/ember-vm-<i>": for ember-vmm's --netns.
  const std::string& netns_path() const { return netns_path_; }
  // "emb<i>": the host end of the veth pair.
  const std::string& host_ifname() const { return host_ifname_; }
  uint32_t index() const { return index_; }

 private:
  friend class HostNetwork;
  VmNetns(HostNetwork* owner, uint32_t index);
  // Builds everything for index (already reserved in owner); on failure the returned
  // error's VmNetns was destroyed, undoing what was made.
  static Result<VmNetns> create(HostNetwork* owner, uint32_t index);
  void tear_down();

  HostNetwork* owner_ = nullptr;  // null once moved from
  uint32_t index_ = 0;
  std::string netns_path_, host_ifname_;
  UniqueFd tap_;
  bool netns_made_ = false, veth_made_ = false;
};

}  // namespace ember::host::net
