// End-to-end: every thread of a booted, a restored and a standby ember-vmm runs under its
// seccomp filters, and a forbidden call on a vCPU thread kills the whole VMM (label "vm").
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "host/agent_client.h"
#include "host/vm_control.h"
#include "tests/vm/guest_vm.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kAgentTimeout{120'000};
constexpr int kKilledBySigsys = 128 + SIGSYS;  // VmProcess's code for a signal death

struct ThreadStatus {
  std::string name;     // comm: ember-vmm, vcpu0, vcpu1, ...
  std::string seccomp;  // "Seccomp:" value: 0 none, 2 filter
  std::string filters;  // "Seccomp_filters:" value (Linux 5.9+), "" when absent
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Every thread of process `pid`, from /proc/PID/task/*/status.
std::vector<ThreadStatus> thread_statuses(pid_t pid) {
  std::vector<ThreadStatus> out;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(task, ec)) {
    ThreadStatus t;
    std::ifstream comm(entry.path() / "comm");
    std::getline(comm, t.name);
    std::ifstream status(entry.path() / "status");
    std::string line;
    while (std::getline(status, line)) {
      const size_t tab = line.find('\t');
      if (tab == std::string::npos) continue;
      if (line.rfind("Seccomp:", 0) == 0) t.seccomp = trim(line.substr(tab + 1));
      if (line.rfind("Seccomp_filters:", 0) == 0) t.filters = trim(line.substr(tab + 1));
    }
    out.push_back(t);
  }
  return out;
}

std::string describe(const std::vector<ThreadStatus>& threads) {
  std::string s;
  for (const ThreadStatus& t : threads) {
    s += t.name + ": Seccomp " + t.seccomp + ", filters " + t.filters + "; ";
  }
  return s;
}

// Main thread plus one per vCPU, each in seccomp filter mode with `filters` filters (the
// start-up filter and its own role's; see vmm/seccomp/thread_filters.h).
void expect_filtered(pid_t pid, size_t vcpus, const std::string& filters = "2") {
  const std::vector<ThreadStatus> threads = thread_statuses(pid);
  ASSERT_EQ(threads.size(), 1 + vcpus) << describe(threads);
  size_t vcpu_threads = 0;
  for (const ThreadStatus& t : threads) {
    EXPECT_EQ(t.seccomp, "2") << describe(threads);
    if (!t.filters.empty()) {
      EXPECT_EQ(t.filters, filters) << describe(threads);
    }
    if (t.name.rfind("vcpu", 0) == 0) ++vcpu_threads;
  }
  EXPECT_EQ(vcpu_threads, vcpus) << describe(threads);
}

Status wait_for_socket(const std::string& path, host::VmProcess& process) {
  const auto deadline = std::chrono::steady_clock::now() + kAgentTimeout;
  while (!fs::exists(path)) {
    if (!process.alive()) return make_error("standby VMM exited", process.stderr_output());
    if (std::chrono::steady_clock::now() > deadline) return make_error("no socket", path);
    std::this_thread::sleep_for(milliseconds(20));
  }
  return {};
}

// One booted two-vCPU VM, snapshotted once (paused, then resumed); the tests restore it.
class SeccompVms : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string("/tmp/ember-seccomp-test-" + std::to_string(::getpid()));
    fs::remove_all(*dir_);
    host::VmConfig config;
    config.mem_mib = 256;
    config.vcpus = 2;
    auto vm = GuestVm::start(config, /*api_sock=*/true);
    ASSERT_TRUE(vm.ok()) << vm.error().message();
    vm_ = new GuestVm(std::move(vm).value());
    auto ready = vm_->wait_ready();
    ASSERT_TRUE(ready.ok()) << ready.error().message();
    for (const char* op : {R"({"op":"pause"})", "", R"({"op":"resume"})"}) {
      const std::string request =
          *op != '\0' ? std::string(op) : R"({"op":"snapshot","dir":")" + *dir_ + "\"}";
      auto reply = vm_->control(request);
      ASSERT_TRUE(reply.ok()) << reply.error().message();
      ASSERT_EQ(*reply, R"({"ok":true})") << request << "\n" << vm_->process().stderr_output();
    }
  }
  static void TearDownTestSuite() {
    delete vm_;
    vm_ = nullptr;
    if (dir_) fs::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }

  static GuestVm* vm_;
  static std::string* dir_;
};
GuestVm* SeccompVms::vm_ = nullptr;
std::string* SeccompVms::dir_ = nullptr;

TEST_F(SeccompVms, EveryThreadOfABootedVmIsFiltered) {
  ASSERT_NE(vm_, nullptr);
  // Device work first (disk, vsock, the control socket's pause/snapshot above): nothing it
  // needed was missing, or the VMM would be dead.
  auto r = vm_->run({"sh", "-c", "cat /etc/os-release >/dev/null && echo ok"});
  ASSERT_TRUE(r.ok()) << r.error().message() << vm_->process().stderr_output();
  EXPECT_EQ(r->stdout_data, "ok\n");
  ASSERT_TRUE(vm_->process().running());
  expect_filtered(vm_->process().pid(), 2);
}

TEST_F(SeccompVms, EveryThreadOfARestoredVmIsFiltered) {
  ASSERT_NE(vm_, nullptr);
  auto vm = GuestVm::restore(*dir_);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  ASSERT_TRUE(vm->connect_agent(kAgentTimeout).ok()) << vm->process().stderr_output();
  auto r = vm->run({"sh", "-c", "echo restored"});
  ASSERT_TRUE(r.ok()) << r.error().message() << vm->process().stderr_output();
  EXPECT_EQ(r->stdout_data, "restored\n");
  expect_filtered(vm->process().pid(), 2);
  auto stats = vm->control(R"({"op":"stats"})");
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_NE(stats->find("\"ok\":true"), std::string::npos) << *stats;
}

TEST_F(SeccompVms, AStandbyVmmIsFilteredWhileItWaitsAndAfterItsRestore) {
  ASSERT_NE(vm_, nullptr);
  const GuestArtifacts a = GuestArtifacts::find();
  const std::string sock_dir = *dir_ + "-standby";
  fs::create_directories(sock_dir);
  const std::string api = sock_dir + "/api.sock", vsock = sock_dir + "/vsock.sock";
  auto p = host::VmProcess::spawn_command(
      {a.vmm, "--standby", "--api-sock", api, "--log-level", "info"});
  ASSERT_TRUE(p.ok()) << p.error().message();
  ASSERT_TRUE(wait_for_socket(api, *p).ok()) << p->stderr_output();
  // Waiting: the main thread alone, under the start-up filter only.
  expect_filtered(p->pid(), 0, "1");

  auto reply = host::vm_control_request(
      api, R"({"op":"restore","dir":")" + *dir_ + R"(","vsock_uds":")" + vsock + "\"}",
      kAgentTimeout);
  ASSERT_TRUE(reply.ok()) << reply.error().message() << p->stderr_output();
  ASSERT_EQ(*reply, R"({"ok":true})") << p->stderr_output();
  auto session = host::AgentSession::connect_refreshed(vsock, kAgentTimeout);
  ASSERT_TRUE(session.ok()) << session.error().message() << p->stderr_output();
  ExecRequest request;
  request.argv = {"sh", "-c", "echo from-standby"};
  request.env = {"PATH=/usr/bin:/bin"};
  request.timeout_ms = 60'000;
  auto r = session->exec(request);
  ASSERT_TRUE(r.ok()) << r.error().message() << p->stderr_output();
  EXPECT_EQ(r->stdout_data, "from-standby\n");
  expect_filtered(p->pid(), 2);
  fs::remove_all(sock_dir);
}

TEST_F(SeccompVms, AForbiddenCallOnAVcpuKillsABootedVmmWithSigsys) {
  const GuestArtifacts a = GuestArtifacts::find();
  host::VmConfig config;
  config.vmm_path = a.vmm;
  config.kernel = a.kernel;
  config.root = a.rootfs;
  config.initrd = a.initramfs;
  std::vector<std::string> argv = host::vmm_command(config);
  argv.push_back("--test-forbidden-syscall-on-vcpu");
  auto p = host::VmProcess::spawn_command(argv);
  ASSERT_TRUE(p.ok()) << p.error().message();
  auto code = p->wait_for(kAgentTimeout);
  ASSERT_TRUE(code.ok() && code->has_value()) << "the VMM kept running";
  EXPECT_EQ(**code, kKilledBySigsys) << p->stderr_output();
}

TEST_F(SeccompVms, AForbiddenCallOnAVcpuKillsARestoredVmmWithSigsys) {
  ASSERT_NE(vm_, nullptr);
  auto vm = GuestVm::restore(*dir_, {"--test-forbidden-syscall-on-vcpu"});
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  auto code = vm->process().wait_for(kAgentTimeout);
  ASSERT_TRUE(code.ok() && code->has_value()) << "the VMM kept running";
  EXPECT_EQ(**code, kKilledBySigsys) << vm->process().stderr_output();
}

TEST_F(SeccompVms, LogModeOnlyLogsTheForbiddenCallAndOffInstallsNoFilter) {
  ASSERT_NE(vm_, nullptr);
  auto logged = GuestVm::restore(*dir_, {"--seccomp", "log", "--test-forbidden-syscall-on-vcpu"});
  ASSERT_TRUE(logged.ok()) << logged.error().message();
  ASSERT_TRUE(logged->connect_agent(kAgentTimeout).ok()) << logged->process().stderr_output();
  auto r = logged->run({"sh", "-c", "echo logged"});
  ASSERT_TRUE(r.ok()) << r.error().message() << logged->process().stderr_output();
  EXPECT_EQ(r->stdout_data, "logged\n");
  expect_filtered(logged->process().pid(), 2);

  auto off = GuestVm::restore(*dir_, {"--seccomp", "off"});
  ASSERT_TRUE(off.ok()) << off.error().message();
  ASSERT_TRUE(off->connect_agent(kAgentTimeout).ok()) << off->process().stderr_output();
  const std::vector<ThreadStatus> threads = thread_statuses(off->process().pid());
  ASSERT_EQ(threads.size(), 3u) << describe(threads);
  for (const ThreadStatus& t : threads) EXPECT_EQ(t.seccomp, "0") << describe(threads);
}

}  // namespace
}  // namespace ember::test
