// The thread filters, loaded for real in forked children: allowed calls work, others kill
// the whole child with SIGSYS (or go through under --seccomp log), clone3 answers ENOSYS.
#include "vmm/seccomp/thread_filters.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

namespace ember::vmm::seccomp {
namespace {

enum class Role { kStartup, kVcpu, kEventLoop };

// Child exit codes that are not the call's own answer.
constexpr int kBuildFailed = 100;
constexpr int kLoadFailed = 101;
constexpr int kCallFailed = 102;

// Builds every filter, then loads startup and, for the other roles, the role's own on
// top: what the VMM's threads have. Returns 0 or one of the codes above.
int load_role(Role role, Mode mode) {
  auto filters = ThreadFilters::build(mode);
  if (!filters.ok()) return kBuildFailed;
  if (!filters->startup.load().ok()) return kLoadFailed;
  if (role == Role::kVcpu && !filters->vcpu.load().ok()) return kLoadFailed;
  if (role == Role::kEventLoop && !filters->event_loop.load().ok()) return kLoadFailed;
  return 0;
}

// Forks; the child loads `role`'s filters and makes `call`, which returns true when the
// call did what it would without a filter. Returns the child's wait status.
int status_after(Role role, const std::function<bool()>& call, Mode mode = Mode::kKill) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);  // SIGSYS would dump core
    if (int rc = load_role(role, mode); rc != 0) ::_exit(rc);
    ::_exit(call() ? 0 : kCallFailed);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

bool exited_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
bool killed_by_sigsys(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS; }

bool open_host_file() {
  const int fd = ::open("/etc/hostname", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) ::close(fd);
  return fd >= 0 || errno == ENOENT;
}
bool exec_true() {
  char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
  ::execve("/bin/true", argv, nullptr);
  return false;
}
bool socket_of(int family) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}
// An ioctl no role lists: pushing a character into the terminal's input.
bool unlisted_ioctl() {
  char c = 'x';
  ::ioctl(-1, TIOCSTI, &c);
  return errno == EBADF;
}
bool ioctl_on_bad_fd(unsigned long request) {
  ::ioctl(-1, request, 0);
  return errno == EBADF;
}
bool start_thread() {
  std::thread t([] {});
  t.join();
  return true;
}
bool fork_child() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  return pid > 0;
}
bool map_executable() {
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p != MAP_FAILED;
}
bool map_writable() {
  void* p = ::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  static_cast<char*>(p)[4096] = 1;
  return ::munmap(p, 1 << 20) == 0;
}
bool write_stderr() { return ::write(STDERR_FILENO, "", 0) == 0; }
bool clone3_is_enosys() {
  const long r = ::syscall(SYS_clone3, nullptr, 0);
  return r == -1 && errno == ENOSYS;
}

TEST(ThreadFilters, BuildInKillAndLogModesButNotOff) {
  for (Mode mode : {Mode::kKill, Mode::kLog}) {
    auto filters = ThreadFilters::build(mode);
    ASSERT_TRUE(filters.ok()) << filters.error().message();
    EXPECT_GT(filters->vcpu.instructions(), 10u);
    EXPECT_GT(filters->startup.instructions(), filters->vcpu.instructions());
  }
  auto off = ThreadFilters::build(Mode::kOff);
  ASSERT_FALSE(off.ok());
  EXPECT_NE(off.error().message().find("off"), std::string::npos) << off.error().message();
}

TEST(ThreadFilters, StartupHoldsEveryRuleOfTheOtherRoles) {
  const pid_t pid = ::getpid();
  const std::vector<Rule> startup = startup_rules(pid);
  auto contains = [&startup](const Rule& rule) {
    for (const Rule& r : startup) {
      if (r.syscall != rule.syscall || r.error != rule.error ||
          r.checks.size() != rule.checks.size()) {
        continue;
      }
      bool same = true;
      for (size_t i = 0; i < r.checks.size(); ++i) {
        same = same && r.checks[i].arg == rule.checks[i].arg &&
               r.checks[i].mask == rule.checks[i].mask &&
               r.checks[i].value == rule.checks[i].value;
      }
      if (same) return true;
    }
    return false;
  };
  for (const auto& rules : {vcpu_rules(pid), event_loop_rules(pid)}) {
    for (const Rule& rule : rules) EXPECT_TRUE(contains(rule)) << "call " << rule.syscall;
  }
}

TEST(ThreadFilters, Clone3AnswersEnosysSoGlibcFallsBackToClone) {
  // Unfiltered, this kernel checks clone3's arguments (EINVAL): ENOSYS below is the filter.
  errno = 0;
  EXPECT_EQ(::syscall(SYS_clone3, nullptr, 0), -1);
  ASSERT_NE(errno, ENOSYS) << "this kernel has no clone3, so the test shows nothing";
  for (Role role : {Role::kStartup, Role::kVcpu, Role::kEventLoop}) {
    const int status = status_after(role, clone3_is_enosys);
    EXPECT_TRUE(exited_ok(status)) << describe(status);
  }
}

TEST(VcpuFilter, AllowsWhatAVcpuThreadDoes) {
  const int status = status_after(Role::kVcpu, [] {
    return write_stderr() && map_writable() && ::getpid() > 0 && socket_of(AF_UNIX) &&
           ioctl_on_bad_fd(KVM_RUN) && ioctl_on_bad_fd(KVM_GET_REGS);
  });
  EXPECT_TRUE(exited_ok(status)) << describe(status);
}

TEST(VcpuFilter, KillsTheProcessForAnythingElse) {
  const std::pair<const char*, std::function<bool()>> calls[] = {
      {"openat of a host file", open_host_file},
      {"execve", exec_true},
      {"socket(AF_INET)", [] { return socket_of(AF_INET); }},
      {"ioctl TIOCSTI", unlisted_ioctl},
      {"ioctl KVM_CREATE_VM (start-up only)", [] { return ioctl_on_bad_fd(KVM_CREATE_VM); }},
      {"ioctl KVM_SET_REGS (start-up only)", [] { return ioctl_on_bad_fd(KVM_SET_REGS); }},
      {"mmap PROT_EXEC", map_executable},
      {"a new thread", start_thread},
      {"fork", fork_child},
      {"the --test-forbidden-syscall-on-vcpu hook", [] {
         make_forbidden_vcpu_syscall();
         return true;
       }},
  };
  for (const auto& [name, call] : calls) {
    const int status = status_after(Role::kVcpu, call);
    EXPECT_TRUE(killed_by_sigsys(status)) << name << ": " << describe(status);
  }
}

TEST(EventLoopFilter, AllowsSnapshotFilesAndUnixSockets) {
  const int status = status_after(Role::kEventLoop, [] {
    return write_stderr() && map_writable() && open_host_file() && socket_of(AF_UNIX) &&
           ioctl_on_bad_fd(KVM_GET_REGS) && ioctl_on_bad_fd(KVM_GET_CLOCK);
  });
  EXPECT_TRUE(exited_ok(status)) << describe(status);
}

TEST(EventLoopFilter, KillsThreadsNetworkSocketsAndVcpuIoctls) {
  const std::pair<const char*, std::function<bool()>> calls[] = {
      {"a new thread", start_thread},
      {"fork", fork_child},
      {"execve", exec_true},
      {"socket(AF_INET6)", [] { return socket_of(AF_INET6); }},
      {"ioctl KVM_RUN", [] { return ioctl_on_bad_fd(KVM_RUN); }},
      {"ioctl TIOCSTI", unlisted_ioctl},
      {"mmap PROT_EXEC", map_executable},
  };
  for (const auto& [name, call] : calls) {
    const int status = status_after(Role::kEventLoop, call);
    EXPECT_TRUE(killed_by_sigsys(status)) << name << ": " << describe(status);
  }
}

TEST(StartupFilter, StartsThreadsAndSetsUpKvmButCannotForkOrExec) {
  int status = status_after(Role::kStartup, [] {
    return start_thread() && open_host_file() && ioctl_on_bad_fd(KVM_CREATE_VM) &&
           ioctl_on_bad_fd(TUNSETVNETHDRSZ);
  });
  EXPECT_TRUE(exited_ok(status)) << describe(status);
  for (const auto& call : {fork_child, exec_true, unlisted_ioctl, map_executable}) {
    status = status_after(Role::kStartup, call);
    EXPECT_TRUE(killed_by_sigsys(status)) << describe(status);
  }
  status = status_after(Role::kStartup, [] { return socket_of(AF_INET); });
  EXPECT_TRUE(killed_by_sigsys(status)) << describe(status);
}

TEST(ThreadFilters, OneThreadsForbiddenCallKillsTheWholeProcess) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    auto filters = ThreadFilters::build(Mode::kKill);
    if (!filters.ok()) ::_exit(kBuildFailed);
    if (!filters->startup.load().ok()) ::_exit(kLoadFailed);
    std::thread vcpu([&filters] {
      if (filters->vcpu.load().ok()) make_forbidden_vcpu_syscall();
    });
    // Only if the vCPU thread alone died would this thread get to exit normally.
    std::this_thread::sleep_for(std::chrono::seconds(5));
    vcpu.join();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(killed_by_sigsys(status)) << describe(status);
}

TEST(ThreadFilters, LogModeLetsForbiddenCallsThrough) {
  for (const auto& call : {open_host_file, unlisted_ioctl, start_thread}) {
    const int status = status_after(Role::kVcpu, call, Mode::kLog);
    EXPECT_TRUE(exited_ok(status)) << describe(status);
  }
}

TEST(ThreadFilters, AVcpuThreadShowsTwoStackedFilters) {
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, release), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    ::close(release[0]);  // else the parent's close would not end the recv below
    if (int rc = load_role(Role::kVcpu, Mode::kKill); rc != 0) ::_exit(rc);
    (void)!::write(ready[1], "r", 1);
    char c;
    ::recv(release[1], &c, 1, 0);  // until the parent has looked
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line, seccomp, filters;
  while (std::getline(status, line)) {
    if (line.rfind("Seccomp:", 0) == 0) seccomp = line;
    if (line.rfind("Seccomp_filters:", 0) == 0) filters = line;
  }
  ::close(release[0]);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  EXPECT_TRUE(exited_ok(wstatus)) << describe(wstatus);
  EXPECT_EQ(seccomp, "Seccomp:\t2");
  if (!filters.empty()) {  // Linux 5.9 and later
    EXPECT_EQ(filters, "Seccomp_filters:\t2");
  }
  for (int fd : {ready[0], ready[1], release[1]}) ::close(fd);
}

}  // namespace
}  // namespace ember::vmm::seccomp
