// RestoredVm: spawning ember-vmm --restore, waiting for the agent, Refresh, cleanup.
#include "host/restored_vm.h"

#include <unistd.h>

#include <utility>

#include "common/working_set.h"

namespace ember::host {
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::vector<std::string> restore_command(const SnapshotSpec& spec, const RestoredVmOptions& options,
                                         const std::string& vsock_uds,
                                         const std::string& api_sock) {
  std::vector<std::string> argv = {options.vmm_path, "--restore",  spec.dir, "--vsock-uds",
                                   vsock_uds,        "--api-sock", api_sock};
  for (const auto& disk : spec.disks) {
    argv.push_back("--disk");
    argv.push_back(disk);
  }
  return argv;
}

Result<std::unique_ptr<RestoredVm>> RestoredVm::restore(const SnapshotSpec& spec,
                                                        const RestoredVmOptions& options) {
  if (options.standby) {
    // Timed from before the take: when none is ready, starting the VMM is this restore's
    // too (as without standbys), not a wait in queue. The policy is too (egress_ms).
    const auto started = Clock::now();
    EMBER_TRY(SpawnedVmm standby, options.standby->take());
    EMBER_CHECK(give_egress(standby, options.network, spec.egress));
    EMBER_CHECK(restore_on_standby(standby, spec.dir, spec.disks, options.ready_timeout,
                                   new_vmm_limits(static_cast<uint32_t>(spec.mem_mib))));
    return connect(std::move(standby), spec, options, started);
  }
  const auto started = Clock::now();
  EMBER_TRY(VmmJail jail, prepare_vmm_jail(options.jails));
  VmSocketFiles files = VmSocketFiles::fresh(vmm_run_dir(jail, options.run_dir));
  std::vector<std::string> argv = restore_command(spec, options, files.vsock_uds, files.api_sock);
  EMBER_TRY(SpawnedVmm vmm,
            spawn_vmm(std::move(argv), std::move(files), {options.network, spec.egress},
                      std::move(jail),
                      {options.cgroup_root, new_vmm_limits(static_cast<uint32_t>(spec.mem_mib))}));
  return connect(std::move(vmm), spec, options, started);
}

Result<std::unique_ptr<RestoredVm>> RestoredVm::restore_on(SpawnedVmm standby,
                                                           const SnapshotSpec& spec,
                                                           const RestoredVmOptions& options) {
  const auto started = Clock::now();
  EMBER_CHECK(restore_on_standby(standby, spec.dir, spec.disks, options.ready_timeout,
                                 new_vmm_limits(static_cast<uint32_t>(spec.mem_mib))));
  return connect(std::move(standby), spec, options, started);
}

Result<std::unique_ptr<RestoredVm>> RestoredVm::connect(SpawnedVmm vmm, const SnapshotSpec& spec,
                                                        const RestoredVmOptions& options,
                                                        Clock::time_point started) {
  auto vmm_exited = [&]() -> Status {
    auto exited = vmm.process.wait_for(milliseconds(0));
    if (exited.ok() && exited->has_value()) {
      return make_error("restore " + spec.dir,
                        "ember-vmm exited with code " + std::to_string(**exited));
    }
    return {};
  };
  // The agent reads the snapshot's working set in the background, once refreshed.
  auto session = AgentSession::connect_refreshed(vmm.files.vsock_uds, options.ready_timeout,
                                                 vmm_exited, snapshot_guest_working_set(spec.dir));
  if (!session.ok()) return with_vmm_output(session.error(), vmm.process);
  const double restore_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return std::unique_ptr<RestoredVm>(
      new RestoredVm(std::move(vmm), std::move(session).value(), restore_ms));
}

bool RestoredVm::alive() { return vmm_.process.alive(); }

Result<std::unique_ptr<PooledVm>> RestoredVmFactory::restore(const SnapshotSpec& spec) {
  EMBER_TRY(std::unique_ptr<RestoredVm> vm, RestoredVm::restore(spec, options_));
  return std::unique_ptr<PooledVm>(std::move(vm));
}

}  // namespace ember::host
