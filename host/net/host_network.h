// HostNetwork: the host side of per-VM networking (one per emberd): table inet ember,
// VM netns indexes and the egress policy of each VM's interface.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "host/net/egress_policy.h"
#include "host/net/nft.h"
#include "host/net/nft_rules.h"
#include "host/net/vm_netns.h"

namespace ember::host::net {

// Thread-safe. Assumes it is the only user of the names it manages on this host (table inet
// ember, /run/netns/ember-vm-*, links emb<N>): start() removes what a crashed emberd left.
class HostNetwork {
 public:
  // Checks the prerequisites (root, /dev/net/tun, `ip`, nf_tables) with errors that name the
  // fix, sets net.ipv4.ip_forward=1, removes leftovers and installs the host table.
  // config.resolver must be set (see default_resolver in resolv_conf.h).
  static Result<std::unique_ptr<HostNetwork>> start(const NetworkConfig& config);

  HostNetwork(const HostNetwork&) = delete;
  HostNetwork& operator=(const HostNetwork&) = delete;
  // Removes the table. Every VmNetns must be gone by then (aborts otherwise).
  ~HostNetwork();

  // A new VM netns at the lowest free index (about 6 ms on an idle host: it runs `ip` three
  // times), with no policy: its traffic is refused until assign(). Make them ahead.
  Result<VmNetns> create_vm();

  // Judges vm's traffic by policy from now on (flows already open included), replacing any
  // earlier policy in the same nft transaction. The first use of a policy also adds its
  // chain (a few hundred us); after that it is one map update (~50-100 us, whatever the
  // number of VMs).
  Status assign(const VmNetns& vm, const EgressPolicy& policy);

  const NetworkConfig& config() const { return config_; }

 private:
  friend class VmNetns;
  HostNetwork(const NetworkConfig& config, std::string ip, Nft nft);
  const std::string& ip_path() const { return ip_; }
  // For ~VmNetns: remove the map element (if any), then give the index back.
  void unassign(uint32_t index);
  void free_index(uint32_t index);

  struct PolicyChain {
    std::string canonical;  // format_egress_policy text
    uint32_t id = 0;        // its key in map `policies`
    size_t users = 0;       // VMs assigned to it
  };
  // Deletes the unused policy chains once there are many (chains cost nft time on each
  // command); called where latency does not matter.
  void collect_unused_chains();

  const NetworkConfig config_;
  const std::string ip_;
  std::mutex mu_;  // guards everything below
  Nft nft_;
  std::vector<bool> in_use_;                             // by VM index
  size_t live_ = 0;                                      // VmNetns not yet destroyed
  std::unordered_map<uint32_t, std::string> assigned_;   // VM index -> chain name
  std::unordered_map<std::string, PolicyChain> chains_;  // by chain name
  uint32_t next_policy_id_ = 1;
};

}  // namespace ember::host::net
