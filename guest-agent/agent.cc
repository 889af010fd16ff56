// The agent's top level: PID 1 boot sequence, the boot test, and the Unix-socket test mode.
#include "guest-agent/agent.h"
#include "guest-agent/vsock_address.h"

#include <linux/vm_sockets.h>
#include <signal.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "common/agent_protocol.h"
#include "common/unique_fd.h"
#include "guest-agent/child_reaper.h"
#include "guest-agent/exec_runner.h"
#include "guest-agent/function_runtime.h"
#include "guest-agent/init_system.h"
#include "guest-agent/page_prefetch.h"
#include "guest-agent/sandbox_user.h"
#include "guest-agent/session_server.h"

namespace ember::agent {
namespace {

// How long Ready is retried. The host may be slow to answer (a loaded or emulated host
// misses the guest's 2 s vsock connect timeout), and without Ready the VM is useless.
constexpr int kReadyRetryMs = 60'000;
// The runtime's cgroup in the guest: its memory.peak is the invocation's Max Memory Used.
constexpr const char* kRuntimeCgroup = "/sys/fs/cgroup/ember-runtime";

Result<UniqueFd> listen_vsock(uint32_t port) {
  UniqueFd s(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return errno_error("socket(AF_VSOCK)");
  const sockaddr_vm addr = vsock_address(VMADDR_CID_ANY, port);
  if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return errno_error("bind vsock", "port " + std::to_string(port));
  }
  if (::listen(s.get(), 64) != 0) return errno_error("listen vsock");
  return s;
}

Result<UniqueFd> listen_unix(const std::string& path) {
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return errno_error("socket(AF_UNIX)");
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return make_error("listen", "path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return errno_error("bind", path);
  }
  if (::listen(s.get(), 64) != 0) return errno_error("listen", path);
  return s;
}

ReadyMsg make_ready(const AgentConfig& config) {
  ReadyMsg ready;
  ready.agent_version = kAgentVersion;
  ready.agent_start_ns = config.start_ns;
  ready.ready_ns = boottime_ns();
  ready.uptime_ns = kernel_uptime_ns();
  return ready;
}

int fail(const Error& error) {
  log_line("fatal: " + error.message());
  return kExitError;
}

[[noreturn]] void reboot_now() {
  ::sync();
  ::reboot(RB_AUTOBOOT);
  log_line("fatal: reboot failed: " + errno_error("reboot").message());
  ::_exit(kExitError);
}

// ember.boot_test: python3 prints a marker on the console, then the guest reboots.
[[noreturn]] void run_boot_test() {
  pid_t pid = ::fork();
  if (pid == 0) {
    char python[] = "/usr/bin/python3", dash_c[] = "-c", code[] = "print('ember-boot-ok')";
    char path[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    char* argv[] = {python, dash_c, code, nullptr};
    char* envp[] = {path, nullptr};
    ::execve(python, argv, envp);
    ::_exit(127);
  }
  int status = 0;
  if (pid > 0) ::waitpid(pid, &status, 0);
  log_line("boot test: python3 exited with status " + std::to_string(status));
  reboot_now();
}

int run_init(const AgentConfig& config) {
  // Before anything else opens a file: fds 0-2 are not open yet.
  if (Status s = mount_dev_and_console(); !s.ok()) return fail(s.error());
  if (Status s = mount_proc_and_sys(); !s.ok()) return fail(s.error());
  auto cmdline = read_text_file("/proc/cmdline");
  if (!cmdline.ok()) return fail(cmdline.error());
  BootConfig boot = boot_config_from_cmdline(*cmdline);
  if (Status s = switch_root(boot); !s.ok()) return fail(s.error());
  if (Status s = mount_runtime_filesystems(boot, sandbox_credentials()); !s.ok()) {
    return fail(s.error());
  }
  if (Status s = restrict_kernel_log(); !s.ok()) log_line("warning: " + s.error().message());
  if (Status s = bring_up_loopback(); !s.ok()) log_line("warning: " + s.error().message());
  if (Status s = set_hostname(boot.hostname); !s.ok()) log_line("warning: " + s.error().message());
  if (boot.boot_test) run_boot_test();

  ChildReaper reaper;
  FunctionRuntime runtime(reaper, FunctionRuntimeConfig{.runtimes_dir = config.runtimes_dir,
                                                        .api_port = config.runtime_api_port,
                                                        .mount_code = true,
                                                        .memory_cgroup = kRuntimeCgroup,
                                                        .runtime_user = sandbox_credentials()});
  auto listener = listen_vsock(kAgentExecPort);
  if (!listener.ok()) return fail(listener.error());
  // After each restore, the snapshot's working set is read in the background (page_prefetch.h).
  PagePrefetcher prefetcher;
  RefreshActions refresh = refresh_actions(RefreshMode::kSystem);
  refresh.prefetch = [&prefetcher](std::vector<GuestPageRun> runs) {
    prefetcher.start(std::move(runs));
  };
  SessionServer server(std::move(listener).value(), reaper,
                       ServerOptions{.refresh = std::move(refresh),
                                     .function_runtime = &runtime,
                                     .prefetcher = &prefetcher});
  Status ready = send_ready([&] { return make_ready(config); }, "", kReadyRetryMs);
  if (!ready.ok()) log_line("warning: no Ready sent: " + ready.error().message());
  log_line("ready");
  if (Status s = server.run(); !s.ok()) return fail(s.error());
  runtime.stop();
  reboot_now();
}

int run_serve_unix(const AgentConfig& config) {
  ChildReaper reaper;
  FunctionRuntime runtime(reaper, FunctionRuntimeConfig{.runtimes_dir = config.runtimes_dir,
                                                        .api_port = config.runtime_api_port,
                                                        .mount_code = false});
  auto listener = listen_unix(config.serve_unix_path);
  if (!listener.ok()) return fail(listener.error());
  SessionServer server(
      std::move(listener).value(), reaper,
      ServerOptions{.vsock_handshake = config.vsock_handshake,
                    .refresh = refresh_actions(config.refresh_mode, config.refresh_record_path),
                    .function_runtime = &runtime});
  if (!config.ready_unix_path.empty()) {
    Status ready =
        send_ready([&] { return make_ready(config); }, config.ready_unix_path, kReadyRetryMs);
    if (!ready.ok()) return fail(ready.error());
  }
  log_line("ready");
  if (Status s = server.run(); !s.ok()) return fail(s.error());
  runtime.stop();
  ::unlink(config.serve_unix_path.c_str());
  // Session threads are detached and use the reaper: leave without running destructors.
  ::_exit(kExitOk);
}

}  // namespace

int run(const AgentConfig& config) {
  // Writes to a closed session must fail with EPIPE, not kill the agent.
  ::signal(SIGPIPE, SIG_IGN);
  return config.mode == AgentConfig::Mode::kInit ? run_init(config) : run_serve_unix(config);
}

}  // namespace ember::agent
