// HostNetwork: prerequisites, leftovers of a crashed emberd, the host table, index and
// policy bookkeeping.
#include "host/net/host_network.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "host/net/addressing.h"
#include "host/net/ip_command.h"
#include "host/net/sysctl.h"

namespace ember::host::net {
namespace {

// Unused policy chains kept for reuse before they are deleted.
constexpr size_t kKeptPolicyChains = 64;

std::vector<std::string> list_dir(const char* path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path);
  if (dir == nullptr) return names;
  while (dirent* entry = ::readdir(dir)) names.emplace_back(entry->d_name);
  ::closedir(dir);
  return names;
}

bool is_vm_link(const std::string& name) {
  if (name.size() <= 3 || name.compare(0, 3, "emb") != 0) return false;
  return name.find_first_not_of("0123456789", 3) == std::string::npos;
}

// Links emb<N> and namespaces /run/netns/ember-vm-* of an emberd that did not clean up.
Status remove_leftovers(const std::string& ip) {
  std::string batch;
  for (const auto& name : list_dir("/sys/class/net")) {
    if (is_vm_link(name)) batch += "link delete " + name + "\n";
  }
  for (const auto& name : list_dir("/run/netns")) {
    if (name.rfind("ember-vm-", 0) == 0) batch += "netns delete " + name + "\n";
  }
  if (batch.empty()) return {};
  Status s = run_ip(ip, {"-force", "-batch", "-"}, batch);
  if (!s.ok()) {
    Error e = s.error();
    e.op = "remove the VM networks a previous emberd left: " + e.op;
    return e;
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<HostNetwork>> HostNetwork::start(const NetworkConfig& config) {
  const std::string what = "VM networking";
  if (::geteuid() != 0) {
    return make_error(what,
                      "needs root (it creates network namespaces, veth pairs, taps and "
                      "nftables rules): run emberd as root");
  }
  if (::access("/dev/net/tun", R_OK | W_OK) != 0) {
    return errno_error(what, "/dev/net/tun is unusable: load the tun module (modprobe tun)");
  }
  if (config.resolver == 0) return make_error(what, "no DNS resolver for VMs: pass --dns ADDR");
  EMBER_TRY(std::string ip, find_ip_binary());
  EMBER_TRY(Nft nft, Nft::create());
  // Creating and deleting the table in one transaction works whether or not a crashed
  // emberd left it, and proves nf_tables works.
  if (Status s = nft.run("add table inet ember\ndelete table inet ember\n"); !s.ok()) {
    return make_error(what, "nf_tables is unusable: " + s.error().context +
                                "; load the nf_tables module (modprobe nf_tables) or use a "
                                "kernel with CONFIG_NF_TABLES");
  }
  if (Status s = write_sysctl("net/ipv4/ip_forward", "1"); !s.ok()) {
    return make_error(what, "cannot enable IPv4 forwarding: " + s.error().message());
  }
  EMBER_CHECK(remove_leftovers(ip));
  if (Status s = nft.run(host_ruleset(config)); !s.ok()) {
    return make_error("install table inet ember",
                      s.error().context +
                          "; the kernel needs nf_tables with NAT, conntrack, connlimit, limit "
                          "and reject (nft_nat, nft_ct, nft_connlimit, nft_limit, "
                          "nft_reject_inet)");
  }
  return std::unique_ptr<HostNetwork>(new HostNetwork(config, std::move(ip), std::move(nft)));
}

HostNetwork::HostNetwork(const NetworkConfig& config, std::string ip, Nft nft)
    : config_(config), ip_(std::move(ip)), nft_(std::move(nft)), in_use_(kMaxVms, false) {}

HostNetwork::~HostNetwork() {
  std::lock_guard lock(mu_);
  if (live_ != 0) {
    std::fprintf(stderr, "emberd: bug: HostNetwork destroyed while %zu VM netns still exist\n",
                 live_);
    std::abort();
  }
  if (Status s = nft_.run("delete table inet ember\n"); !s.ok()) {
    std::fprintf(stderr, "emberd: warning: removing table inet ember: %s\n",
                 s.error().message().c_str());
  }
}

Result<VmNetns> HostNetwork::create_vm() {
  uint32_t index = 0;
  {
    std::lock_guard lock(mu_);
    while (index < kMaxVms && in_use_[index]) ++index;
    if (index == kMaxVms) {
      return make_error("create VM network",
                        "all " + std::to_string(kMaxVms) + " VM networks are in use");
    }
    in_use_[index] = true;
    ++live_;
  }
  // From here the VmNetns owns the index: a failure frees it with what was made.
  return VmNetns::create(this, index);
}

Status HostNetwork::assign(const VmNetns& vm, const EgressPolicy& policy) {
  const std::string name = policy_chain_name(policy);
  const std::string canonical = format_egress_policy(policy);
  const std::string what = "assign egress policy '" + canonical + "' to " + vm.host_ifname();
  std::lock_guard lock(mu_);
  if (vm.owner_ != this) return make_error(what, "the VM netns belongs to another HostNetwork");
  auto chain = chains_.find(name);
  if (chain == chains_.end()) {
    const uint32_t id = next_policy_id_++;
    if (Status s = nft_.run(policy_chain(policy, config_.resolver) + add_policy_command(id, name));
        !s.ok()) {
      return make_error(what, s.error().message());
    }
    chain = chains_.emplace(name, PolicyChain{canonical, id, 0}).first;
  } else if (chain->second.canonical != canonical) {
    return make_error(what, "chain " + name + " already holds policy '" + chain->second.canonical +
                                "' (a hash collision): write the allowlist differently");
  }
  auto current = assigned_.find(vm.index());
  if (current != assigned_.end() && current->second == name) return {};
  std::string commands;
  if (current != assigned_.end()) commands = unassign_command(vm.host_ifname());
  commands += assign_command(vm.host_ifname(), chain->second.id);
  if (Status s = nft_.run(commands); !s.ok()) return make_error(what, s.error().message());
  if (current != assigned_.end()) --chains_[current->second].users;
  ++chain->second.users;
  assigned_[vm.index()] = name;
  return {};
}

void HostNetwork::unassign(uint32_t index) {
  std::lock_guard lock(mu_);
  auto current = assigned_.find(index);
  if (current == assigned_.end()) return;
  if (Status s = nft_.run(unassign_command(host_ifname(index))); !s.ok()) {
    std::fprintf(stderr, "emberd: warning: unassigning the egress policy of %s: %s\n",
                 host_ifname(index).c_str(), s.error().message().c_str());
  }
  --chains_[current->second].users;
  assigned_.erase(current);
  collect_unused_chains();
}

void HostNetwork::collect_unused_chains() {
  if (chains_.size() <= kKeptPolicyChains) return;
  std::string commands;
  for (const auto& [name, chain] : chains_) {
    if (chain.users == 0) commands += delete_policy_commands(chain.id, name);
  }
  if (commands.empty()) return;
  if (Status s = nft_.run(commands); !s.ok()) {
    std::fprintf(stderr, "emberd: warning: deleting unused egress policy chains: %s\n",
                 s.error().message().c_str());
    return;
  }
  std::erase_if(chains_, [](const auto& entry) { return entry.second.users == 0; });
}

void HostNetwork::free_index(uint32_t index) {
  std::lock_guard lock(mu_);
  in_use_[index] = false;
  --live_;
}

}  // namespace ember::host::net
