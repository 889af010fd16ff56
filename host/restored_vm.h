// RestoredVm: a VM restored from a snapshot by ember-vmm --restore, refreshed, for the pool.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "host/agent_client.h"
#include "host/pool.h"
#include "host/standby_vmm.h"
#include "host/vm_client.h"
#include "host/vm_socket_files.h"

namespace ember::host {

struct RestoredVmOptions {
  std::string vmm_path = "ember-vmm";  // looked up in PATH when it has no '/'
  std::string run_dir = "/tmp";        // where each VM's vsock and control sockets go
  // Restore, connect and Refresh must be done within this.
  std::chrono::milliseconds ready_timeout{std::chrono::seconds(10)};
  // When set, restores go to a standby VMM from here instead of a fresh ember-vmm process.
  std::shared_ptr<StandbyStock> standby;
  // When set, a VMM spawned here gets a network namespace and tap of its own from it, with
  // the snapshot spec's egress policy (the standby stock has its own pointer, and a standby
  // VMM's namespace gets the spec's policy before the restore); it must outlive every VM.
  net::HostNetwork* network = nullptr;
  // When set, every VMM spawned here is jailed (the standby stock jails its own). The
  // snapshot's disks must then be named in the spec (they are bound or linked into the jail).
  std::shared_ptr<jail::VmJails> jails;
  // When set (a cgroup v2 root), every VMM spawned here starts in a cgroup of its own with
  // new_vmm_limits for the snapshot's memory (the standby stock sets its own cgroups).
  std::string cgroup_root;
};

// The ember-vmm command line that restores spec with the given fresh socket paths.
std::vector<std::string> restore_command(const SnapshotSpec& spec, const RestoredVmOptions& options,
                                         const std::string& vsock_uds, const std::string& api_sock);

class RestoredVm : public PooledVm {
 public:
  // Spawns `ember-vmm --restore DIR --vsock-uds <fresh> --api-sock <fresh> [--disk ...]`,
  // or sends the same as a request to a standby VMM from options.standby; then connects to
  // the agent's exec port and sends Refresh. Fails (with the VMM's stderr) if
  // the VMM exits first or the agent does not acknowledge within options.ready_timeout;
  // nothing is left running or on disk then.
  static Result<std::unique_ptr<RestoredVm>> restore(const SnapshotSpec& spec,
                                                     const RestoredVmOptions& options);
  // The same on a given standby VMM (options.standby is not used), whose namespace (if
  // any) already has spec.egress.
  static Result<std::unique_ptr<RestoredVm>> restore_on(SpawnedVmm standby,
                                                        const SnapshotSpec& spec,
                                                        const RestoredVmOptions& options);

  // Closes the session, kills (SIGKILL) and reaps the VMM, removes both socket files.
  ~RestoredVm() override = default;

  AgentSession& agent() override { return session_; }
  VmProcess& process() override { return vmm_.process; }
  const net::VmNetns* netns() const override { return vmm_.net ? &*vmm_.net : nullptr; }
  double egress_ms() const override { return vmm_.egress_ms; }
  double restore_ms() const override { return restore_ms_; }
  const VmCgroup* cgroup() const override { return vmm_.cgroup ? &*vmm_.cgroup : nullptr; }
  bool alive() override;

  const std::string& vsock_uds() const { return vmm_.files.vsock_uds; }
  const std::string& api_socket() const { return vmm_.files.api_sock; }

 private:
  // Connects to the agent of a VMM that is restoring spec, and sends Refresh.
  // started: when the restore began (restore_ms counts from it).
  static Result<std::unique_ptr<RestoredVm>> connect(SpawnedVmm vmm, const SnapshotSpec& spec,
                                                     const RestoredVmOptions& options,
                                                     std::chrono::steady_clock::time_point started);
  RestoredVm(SpawnedVmm vmm, AgentSession session, double restore_ms)
      : vmm_(std::move(vmm)), session_(std::move(session)), restore_ms_(restore_ms) {}

  SpawnedVmm vmm_;
  AgentSession session_;
  double restore_ms_;
};

// The pool's real factory.
class RestoredVmFactory : public VmFactory {
 public:
  explicit RestoredVmFactory(RestoredVmOptions options) : options_(std::move(options)) {}
  Result<std::unique_ptr<PooledVm>> restore(const SnapshotSpec& spec) override;

 private:
  const RestoredVmOptions options_;
};

}  // namespace ember::host
