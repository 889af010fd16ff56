// Standby VMMs: spawning, the restore request, and the background-refilled stock.
#include "host/standby_vmm.h"

#include <sched.h>

#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "host/net/host_network.h"
#include "host/vm_control.h"

namespace ember::host {
namespace {

using std::chrono::milliseconds;


// Assigns egress to netns; returns the milliseconds it took.
Result<double> assign_timed(net::HostNetwork& host, const net::VmNetns& netns,
                            const net::EgressPolicy& egress) {
  const auto start = std::chrono::steady_clock::now();
  EMBER_CHECK(host.assign(netns, egress));
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

Result<VmmJail> prepare_vmm_jail(const std::shared_ptr<jail::VmJails>& jails,
                                 jail::JailLimits limits) {
  VmmJail out;
  if (!jails) return out;
  out.jails = jails.get();
  EMBER_TRY(jail::VmJail jail, jails->prepare());
  out.jail.emplace(std::move(jail));
  out.limits = limits;
  return out;
}

std::string vmm_run_dir(const VmmJail& jail, const std::string& run_dir) {
  return jail.jail ? jail.jail->run_dir() : run_dir;
}

Result<SpawnedVmm> spawn_vmm(std::vector<std::string> argv, VmSocketFiles files,
                             const VmmNetwork& network, VmmJail jail, const VmmLimits& limits) {
  const bool jailed = jail.jails != nullptr && jail.jail;
  // The VMM stops when emberd dies, however it dies (vm_client.h).
  argv.insert(argv.end(), {"--lifeline-fd", std::to_string(kChildLifelineFd)});
  std::optional<net::VmNetns> netns;
  double egress_ms = 0;
  if (network.host != nullptr) {
    EMBER_TRY(netns, network.host->create_vm());
    EMBER_TRY(egress_ms, assign_timed(*network.host, *netns, network.egress));
    // Jailed, the jailer joins the namespace: the VMM has no CAP_SYS_ADMIN left for setns.
    const auto flags = vmm_net_flags(jailed ? "" : netns->netns_path());
    argv.insert(argv.end(), flags.begin(), flags.end());
  }
  int namespaces = 0;
  if (jailed) {
    EMBER_TRY(argv, jail.jails->command(*jail.jail, std::move(argv),
                                        netns ? netns->netns_path() : "", jail.limits));
    namespaces = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (!netns) namespaces |= CLONE_NEWNET;  // loopback only, and none of the host's
  }
  std::optional<VmCgroup> cgroup;
  if (!limits.cgroup_root.empty()) {
    EMBER_TRY(cgroup, VmCgroup::create(limits.cgroup_root, VmCgroup::fresh_name(), limits.limits));
  }
  // Closed here once spawned: the VMM holds the only copy of the tap.
  UniqueFd tap = netns ? netns->take_tap() : UniqueFd();
  SpawnOptions spawn;
  spawn.net_fd = tap.get();
  spawn.lifeline_fd = lifeline_read_end();
  spawn.namespaces = namespaces;
  spawn.cgroup_fd = cgroup ? cgroup->fd() : -1;
  EMBER_TRY(VmProcess process, VmProcess::spawn_command(argv, spawn));
  return SpawnedVmm{std::move(jail.jail), std::move(cgroup), std::move(files), std::move(netns),
                    std::move(process), egress_ms};
}

Status give_egress(SpawnedVmm& vmm, net::HostNetwork* host, const net::EgressPolicy& egress) {
  vmm.egress_ms = 0;
  if (host == nullptr || !vmm.net) return {};
  EMBER_TRY(vmm.egress_ms, assign_timed(*host, *vmm.net, egress));
  return {};
}

Result<SpawnedVmm> spawn_standby_vmm(const std::string& vmm_path, const std::string& run_dir,
                                     const VmmNetwork& network,
                                     const std::vector<std::string>& extra_args,
                                     const std::shared_ptr<jail::VmJails>& jails,
                                     const std::string& cgroup_root) {
  EMBER_TRY(VmmJail jail, prepare_vmm_jail(jails));
  VmSocketFiles files = VmSocketFiles::fresh(vmm_run_dir(jail, run_dir));
  std::vector<std::string> argv = {vmm_path, "--standby", "--api-sock", files.api_sock,
                                   "--standby-timeout", std::to_string(kStandbyTimeout.count())};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  return spawn_vmm(std::move(argv), std::move(files), network, std::move(jail),
                   {cgroup_root, kStandbyVmmLimits});
}

Status restore_on_standby(SpawnedVmm& vmm, const std::string& snapshot_dir,
                          const std::vector<std::string>& disks, milliseconds timeout,
                          const CgroupLimits& limits) {
  if (vmm.cgroup) {
    EMBER_CHECK(vmm.cgroup->set_memory_max(limits.memory_max_bytes));
    EMBER_CHECK(vmm.cgroup->set_cpus(limits.cpus));
  }
  if (vmm.jail) {
    // The snapshot's files and the disks, at the paths the request names, in the jail.
    EMBER_CHECK(vmm.jail->expose(snapshot_dir));
    for (const auto& disk : disks) {
      const bool mode = disk.ends_with(":ro") || disk.ends_with(":rw");
      EMBER_CHECK(vmm.jail->expose(mode ? disk.substr(0, disk.size() - 3) : disk));
    }
  }
  nlohmann::json request = {
      {"op", "restore"}, {"dir", snapshot_dir}, {"vsock_uds", vmm.files.vsock_uds}};
  if (!disks.empty()) request["disks"] = disks;
  Status s = vm_control_ok(vmm.files.api_sock, request.dump(), timeout);
  if (!s.ok()) return with_vmm_output(s.error(), vmm.process);
  return {};
}

StandbyStock::StandbyStock(std::string vmm_path, std::string run_dir, size_t target,
                           VmmNetwork network, std::shared_ptr<ForegroundGate> gate,
                           std::shared_ptr<jail::VmJails> jails, milliseconds max_age,
                           std::string cgroup_root)
    : vmm_path_(std::move(vmm_path)),
      run_dir_(std::move(run_dir)),
      target_(target),
      network_(std::move(network)),
      gate_(std::move(gate)),
      jails_(std::move(jails)),
      max_age_(max_age),
      cgroup_root_(std::move(cgroup_root)) {
  if (target_ > 0) refiller_ = std::thread([this] { refill(); });
}

StandbyStock::~StandbyStock() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (refiller_.joinable()) refiller_.join();
}

Result<SpawnedVmm> StandbyStock::take() {
  std::vector<SpawnedVmm> dead;  // reaped outside the lock
  {
    std::lock_guard lock(mu_);
    spawn_failures_ = 0;
    while (!stock_.empty()) {
      SpawnedVmm vmm = std::move(stock_.front());
      stock_.pop_front();
      if (vmm.process.alive() && std::chrono::steady_clock::now() - vmm.spawned_at < max_age_) {
        wake_.notify_all();
        return vmm;
      }
      dead.push_back(std::move(vmm));
    }
  }
  wake_.notify_all();
  return spawn_standby_vmm(vmm_path_, run_dir_, network_, {}, jails_, cgroup_root_);
}

size_t StandbyStock::available() {
  std::lock_guard lock(mu_);
  return stock_.size();
}

std::deque<SpawnedVmm> StandbyStock::take_aged() {
  std::deque<SpawnedVmm> aged;
  const auto now = std::chrono::steady_clock::now();
  while (!stock_.empty() && now - stock_.front().spawned_at >= max_age_) {  // oldest first
    aged.push_back(std::move(stock_.front()));
    stock_.pop_front();
  }
  return aged;
}

void StandbyStock::refill() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait_for(lock, max_age_ / 4, [this] { return stopping_ || needs_one(); });
    if (stopping_) break;
    if (std::deque<SpawnedVmm> aged = take_aged(); !aged.empty()) {
      lock.unlock();
      aged.clear();  // killed and reaped without the lock
      lock.lock();
    }
    if (!needs_one()) continue;
    lock.unlock();
    if (gate_) gate_->wait_for_turn(ForegroundGate::kMaxDefer);
    auto spawned = spawn_standby_vmm(vmm_path_, run_dir_, network_, {}, jails_, cgroup_root_);
    lock.lock();
    if (!spawned.ok()) {
      if (++spawn_failures_ == kMaxSpawnFailures) {
        std::fprintf(stderr, "ember: warning: cannot keep standby VMMs: %s\n",
                     spawned.error().message().c_str());
      }
      continue;
    }
    spawn_failures_ = 0;
    stock_.push_back(std::move(spawned).value());
  }
  std::deque<SpawnedVmm> doomed;
  doomed.swap(stock_);
  lock.unlock();
}

}  // namespace ember::host
