// GuestVm: boots the guest under ember-vmm for end-to-end tests.
#include "tests/vm/guest_vm.h"

#include "host/vm_control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace ember::test {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// First line printed by a command (used to ask the cache scripts for paths).
std::string command_output(const std::string& command) {
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[4096];
    if (fgets(buf, sizeof buf, p) != nullptr) out = buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

GuestArtifacts GuestArtifacts::find() {
  const std::string src = EMBER_SOURCE_DIR, build = EMBER_BINARY_DIR;
  GuestArtifacts a;
  a.vmm = env_or("EMBER_VMM", build + "/vmm/ember-vmm");
  a.kernel = env_or("EMBER_KERNEL", command_output(src + "/scripts/build-kernel --print-path"));
  a.rootfs = env_or("EMBER_ROOTFS", command_output(src + "/scripts/build-rootfs --print-path"));
  a.initramfs = env_or("EMBER_INITRAMFS", build + "/guest/initramfs.cpio");
  return a;
}

std::string GuestVm::fresh_dir() {
  static std::atomic<int> counter{0};
  std::string dir =
      "/tmp/ember-vmtest-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  std::filesystem::create_directories(dir);
  return dir;
}

Result<GuestVm> GuestVm::restore(const std::string& dir, std::vector<std::string> extra_args) {
  const GuestArtifacts artifacts = GuestArtifacts::find();
  GuestVm vm;
  vm.dir_ = fresh_dir();
  vm.vsock_ = vm.dir_ + "/vsock.sock";
  vm.api_sock_ = vm.dir_ + "/api.sock";
  std::vector<std::string> argv = {artifacts.vmm,  "--restore",  dir,          "--vsock-uds",
                                   vm.vsock_,      "--api-sock", vm.api_sock_, "--log-level",
                                   "info"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  EMBER_TRY(host::VmProcess process, host::VmProcess::spawn_command(argv));
  vm.process_.emplace(std::move(process));
  return vm;
}

Status GuestVm::connect_agent(std::chrono::milliseconds timeout) {
  auto session = host::AgentSession::connect_vsock(vsock_, kAgentExecPort, timeout);
  if (!session.ok()) {
    return make_error("connect to the restored agent",
                      session.error().message() + "; VMM stderr:\n" + process_->stderr_output());
  }
  session_.emplace(std::move(session).value());
  return {};
}

Result<std::string> GuestVm::control(const std::string& request_json,
                                     std::chrono::milliseconds timeout) {
  return host::vm_control_request(api_sock_, request_json, timeout);
}

Result<GuestVm> GuestVm::start(host::VmConfig config, bool api_sock) {
  const GuestArtifacts artifacts = GuestArtifacts::find();
  for (const std::string& path : {artifacts.vmm, artifacts.kernel, artifacts.rootfs,
                                  artifacts.initramfs}) {
    if (path.empty() || !std::filesystem::exists(path)) {
      return make_error("find guest artifacts", "missing '" + path + "'; run scripts/test");
    }
  }
  GuestVm vm;
  vm.dir_ = fresh_dir();
  config.vmm_path = artifacts.vmm;
  config.kernel = artifacts.kernel;
  config.root = artifacts.rootfs;
  config.initrd = artifacts.initramfs;
  config.vsock_uds = vm.dir_ + "/vsock.sock";
  vm.vsock_ = config.vsock_uds;
  EMBER_TRY(host::AgentClient agent, host::AgentClient::listen(config.vsock_uds));
  vm.agent_.emplace(std::move(agent));
  std::vector<std::string> argv = host::vmm_command(config);
  if (api_sock) {
    vm.api_sock_ = vm.dir_ + "/api.sock";
    argv.push_back("--api-sock");
    argv.push_back(vm.api_sock_);
  }
  EMBER_TRY(host::VmProcess process,
            host::VmProcess::spawn_command(argv, {config.stdout_path, config.stderr_path,
                                                  config.capture_stdout}));
  vm.process_.emplace(std::move(process));
  return vm;
}

Result<ReadyMsg> GuestVm::wait_ready() {
  auto ready = agent_->wait_ready(kReadyTimeout);
  if (!ready.ok()) {
    return make_error("wait for the agent", ready.error().message() + "; VMM stderr:\n" +
                                                process_->stderr_output());
  }
  return ready;
}

Result<ExecResult> GuestVm::run(std::vector<std::string> argv, std::string stdin_data) {
  ExecRequest request;
  request.argv = std::move(argv);
  request.env = {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/root"};
  request.stdin_data = std::move(stdin_data);
  request.timeout_ms = 60'000;
  request.output_cap = 4u << 20;
  if (session_) return session_->exec(request);
  return agent_->exec(request);
}

}  // namespace ember::test
