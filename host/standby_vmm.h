// Standby VMMs: `ember-vmm --standby` processes started ahead of need, so that a restore
// skips exec, start-up and KVM VM creation (Firecracker's snapshot-load model).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "host/foreground_gate.h"
#include "host/jail/vm_jail.h"
#include "host/net/egress_policy.h"
#include "host/net/vm_netns.h"
#include "host/vm_cgroup.h"
#include "host/vm_client.h"
#include "host/vm_socket_files.h"

namespace ember::host {

// A standby VMM that no restore claims exits after kStandbyTimeout (its --standby-timeout);
// the stock hands out none older than kStandbyMaxAge and replaces them, so a restore never
// reaches one on its way out.
inline constexpr std::chrono::seconds kStandbyTimeout{600};
inline constexpr std::chrono::seconds kStandbyMaxAge = kStandbyTimeout / 2;

// An ember-vmm process, its socket paths and its network namespace (when it has one). For
// a standby VMM the api socket takes the restore request, and the vsock path is what the
// request gives the restored VM.
struct SpawnedVmm {
  std::optional<jail::VmJail> jail;  // first: its directory goes last, after the VMM's files
  std::optional<VmCgroup> cgroup;    // before the VMM: removed once it is gone
  VmSocketFiles files;              // before the VMM, so the files go after it
  std::optional<net::VmNetns> net;  // removed after the VMM is gone
  VmProcess process;
  // Of the spawn or the give_egress that made it what it is: the time spent assigning the
  // egress policy (0 without a network, or when the namespace had that policy already).
  double egress_ms = 0;
  std::chrono::steady_clock::time_point spawned_at = std::chrono::steady_clock::now();
};

// How a VMM is networked: not at all (host null), or in a fresh namespace of its own whose
// traffic host judges by `egress` from before the VMM starts.
struct VmmNetwork {
  net::HostNetwork* host = nullptr;
  net::EgressPolicy egress;
};

// How a VMM is jailed: not at all (jails null), or by ember-jailer in `jail` (prepared by
// the caller, whose socket files are in its run directory) with `limits`.
struct VmmJail {
  const jail::VmJails* jails = nullptr;
  std::optional<jail::VmJail> jail;
  jail::JailLimits limits;
};

// How a VMM is limited: not at all (cgroup_root empty: no cgroup v2 here), or in a cgroup
// of its own under <cgroup_root>/ember, made before it starts, with `limits`.
struct VmmLimits {
  std::string cgroup_root;
  CgroupLimits limits;
};

// A jail from jails (none when jails is null), for the VMM about to be spawned.
Result<VmmJail> prepare_vmm_jail(const std::shared_ptr<jail::VmJails>& jails,
                                 jail::JailLimits limits = {});

// Where a VMM's socket files go: its jail's run directory, or run_dir when not jailed.
std::string vmm_run_dir(const VmmJail& jail, const std::string& run_dir);

// Spawns argv, an ember-vmm command line using files' sockets, with emberd's lifeline;
// with a network, the VMM runs in a fresh namespace of its own with a tap (vmm_net_flags
// are appended), its policy assigned first. Jailed: through ember-jailer, cloned into new
// mount, PID, IPC, UTS (and, without a network of its own, network) namespaces. With a
// cgroup root, started in a new cgroup with limits.limits.
Result<SpawnedVmm> spawn_vmm(std::vector<std::string> argv, VmSocketFiles files,
                             const VmmNetwork& network, VmmJail jail = {},
                             const VmmLimits& limits = {});

// Spawns `vmm_path --standby --api-sock <fresh path in run_dir> --standby-timeout
// kStandbyTimeout [extra_args]`; with a network, in a fresh namespace of its own with a tap
// and policy (made here, ahead of any restore); with jails, jailed now (what a restore
// needs is linked in by restore_on_standby); with a cgroup root, in a cgroup with
// kStandbyVmmLimits until restore_on_standby.
Result<SpawnedVmm> spawn_standby_vmm(const std::string& vmm_path, const std::string& run_dir,
                                     const VmmNetwork& network,
                                     const std::vector<std::string>& extra_args = {},
                                     const std::shared_ptr<jail::VmJails>& jails = nullptr,
                                     const std::string& cgroup_root = {});

// Judges the traffic of vmm's VM by egress from now on (flows already open included); a
// no-op without a namespace or when it has that policy already. Sets vmm.egress_ms.
Status give_egress(SpawnedVmm& vmm, net::HostNetwork* host, const net::EgressPolicy& egress);

// Sends {"op":"restore",...} for `snapshot_dir` to a standby VMM and waits for its reply:
// ok once the VM is restored and running, with vmm.files.vsock_uds as its vsock and
// `disks` (may be empty) replacing the snapshot's. A jailed VMM first gets the snapshot's
// files and the disks hard-linked into its root; one with a cgroup first gets `limits`
// (the restored guest's). Fails with the VMM's stderr attached.
Status restore_on_standby(SpawnedVmm& vmm, const std::string& snapshot_dir,
                          const std::vector<std::string>& disks,
                          std::chrono::milliseconds timeout, const CgroupLimits& limits = {});

// Keeps up to `target` standby VMMs spawned; a background thread refills after each take
// and replaces those older than kStandbyMaxAge. Thread-safe. Destroying it kills the ones
// not taken.
class StandbyStock {
 public:
  // network.host may be null (no networking); it must outlive the stock. Each standby's
  // namespace gets network.egress ahead (emberd's default policy), so that restoring a
  // function with that policy changes no rule on the request path.
  // With a gate, each refill first waits its turn behind the cold starts in progress.
  // With jails, every standby is jailed when made; with a cgroup root, every one starts in
  // a cgroup of its own (kStandbyVmmLimits).
  StandbyStock(std::string vmm_path, std::string run_dir, size_t target,
               VmmNetwork network = {}, std::shared_ptr<ForegroundGate> gate = nullptr,
               std::shared_ptr<jail::VmJails> jails = nullptr,
               std::chrono::milliseconds max_age = kStandbyMaxAge, std::string cgroup_root = {});
  ~StandbyStock();
  StandbyStock(const StandbyStock&) = delete;
  StandbyStock& operator=(const StandbyStock&) = delete;

  // A running standby VMM from the stock no older than max_age, or a freshly spawned one
  // when none is left.
  Result<SpawnedVmm> take();
  // How many are in stock now (for tests and stats).
  size_t available();

 private:
  void refill();
  // Moves the ones past max_age out of stock_ (the caller holds mu_ and destroys them
  // without it).
  std::deque<SpawnedVmm> take_aged();
  bool needs_one() const {
    return stock_.size() < target_ && spawn_failures_ < kMaxSpawnFailures;
  }
  // Spawning failed this many times in a row: the refill waits for the next take().
  static constexpr int kMaxSpawnFailures = 3;

  const std::string vmm_path_;
  const std::string run_dir_;
  const size_t target_;
  const VmmNetwork network_;
  const std::shared_ptr<ForegroundGate> gate_;
  const std::shared_ptr<jail::VmJails> jails_;
  const std::chrono::milliseconds max_age_;
  const std::string cgroup_root_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<SpawnedVmm> stock_;
  int spawn_failures_ = 0;  // in a row; reset by take()
  bool stopping_ = false;
  std::thread refiller_;
};

}  // namespace ember::host
