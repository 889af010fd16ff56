// BootedVm: ember-vmm from the kernel, Ready, and a snapshot through the control socket.
#include "host/runtime/booted_vm.h"

#include <unistd.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "host/net/addressing.h"
#include "host/vm_control.h"

namespace ember::host {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kControlTimeout = seconds(60);

// Besides guest memory (memory.bin), what a booted VMM may write into one file: state.bin
// and its own log.
constexpr uint64_t kFsizeSlack = 64ull << 20;

}  // namespace

Result<std::unique_ptr<BootedVm>> BootedVm::boot(const BootSpec& spec) {
  jail::JailLimits limits;
  limits.fsize = (uint64_t{spec.memory_mb} << 20) + kFsizeSlack;  // its snapshot's memory.bin
  EMBER_TRY(VmmJail jail, prepare_vmm_jail(spec.jails, limits));
  VmSocketFiles files = VmSocketFiles::fresh(vmm_run_dir(jail, spec.run_dir));
  VmConfig config;
  config.vmm_path = spec.vmm_path;
  config.kernel = spec.kernel;
  config.initrd = spec.initramfs;
  config.root = spec.rootfs;
  if (!spec.code_image.empty()) config.disks.push_back(spec.code_image + ":ro");
  config.mem_mib = spec.memory_mb;
  config.vcpus = spec.vcpus;
  config.vsock_uds = files.vsock_uds;
  config.extra_cmdline = "ember.tmp_mib=" + std::to_string(spec.tmp_mib);
  if (spec.network != nullptr) config.extra_cmdline += " " + net::guest_kernel_args();
  std::vector<std::string> argv = vmm_command(config);
  argv.insert(argv.end(), {"--api-sock", files.api_sock});
  if (spec.test_forbidden_syscall) argv.push_back("--test-forbidden-syscall-on-vcpu");

  EMBER_TRY(AgentClient client, AgentClient::listen(files.vsock_uds));
  if (jail.jail) {
    // The jailed VMM connects to this socket when the guest says Ready: it needs write access.
    const std::string ready = files.vsock_uds + "_" + std::to_string(kAgentReadyPort);
    if (::chown(ready.c_str(), jail.jail->uid(), jail.jail->uid()) != 0) {
      return errno_error("boot a VM: give the jailed VMM the Ready socket", ready);
    }
  }
  EMBER_TRY(SpawnedVmm vmm,
            spawn_vmm(std::move(argv), std::move(files), {spec.network, spec.egress},
                      std::move(jail), {spec.cgroup_root, booted_vmm_limits(spec.memory_mb)}));
  VmProcess& process = vmm.process;
  auto vmm_exited = [&]() -> Status {
    auto exited = process.wait_for(milliseconds(0));
    if (exited.ok() && exited->has_value()) {
      return make_error("boot a VM", "ember-vmm exited with code " + std::to_string(**exited) +
                                         " before the guest's agent was ready");
    }
    return {};
  };
  auto ready = client.wait_ready(spec.ready_timeout, vmm_exited);
  if (!ready.ok()) return with_vmm_output(ready.error(), process);
  auto session = client.connect();
  if (!session.ok()) return with_vmm_output(session.error(), process);
  // A booted guest's clock starts from the RTC's whole seconds (up to a second behind, and
  // a function's deadline is in the host's clock): set it, and add entropy, as on a restore.
  Status refreshed = session->refresh(spec.ready_timeout);
  if (!refreshed.ok()) return with_vmm_output(refreshed.error(), process);
  return std::unique_ptr<BootedVm>(
      new BootedVm(std::move(client), std::move(vmm), std::move(session).value()));
}

bool BootedVm::alive() { return vmm_.process.alive(); }

Status BootedVm::snapshot(const std::string& dir) {
  namespace fs = std::filesystem;
  // Jailed, the VMM can write only in its run directory (on the state dir's file system,
  // so the rename below still moves, not copies).
  const std::string tmp = vmm_.jail ? vmm_.jail->run_dir() + "/snapshot" : dir + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(fs::path(tmp).parent_path(), ec);
  fs::create_directories(fs::path(dir).parent_path(), ec);
  EMBER_CHECK(vm_control_ok(vmm_.files.api_sock, R"({"op":"pause"})", kControlTimeout));
  const std::string request = nlohmann::json{{"op", "snapshot"}, {"dir", tmp}}.dump();
  Status taken = vm_control_ok(vmm_.files.api_sock, request, kControlTimeout);
  // Resume whatever happened: the VM serves the invocation that booted it.
  Status resumed = vm_control_ok(vmm_.files.api_sock, R"({"op":"resume"})", kControlTimeout);
  if (!taken.ok()) {
    fs::remove_all(tmp, ec);
    return taken;
  }
  EMBER_CHECK(resumed);
  if (vmm_.jail) {
    // Out of the VMM's hands: owned by root, read-only for every VMM that restores it.
    fs::remove_all(dir, ec);
    fs::rename(tmp, dir, ec);
    if (ec) return make_error("snapshot", "rename " + tmp + " to " + dir + ": " + ec.message());
    Status sealed = jail::seal_for_vmms(dir);
    if (!sealed.ok()) fs::remove_all(dir, ec);
    return sealed;
  }
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir, ec);
  if (ec) return make_error("snapshot", "rename " + tmp + " to " + dir + ": " + ec.message());
  return {};
}

}  // namespace ember::host
