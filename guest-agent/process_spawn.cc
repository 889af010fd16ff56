// spawn_process: the child's setup runs only async-signal-safe calls; a CLOEXEC report pipe
// tells the parent whether execve() happened.
#include "guest-agent/process_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ember::agent {
namespace {

// Everything the child needs, built before fork() so the child only makes system calls.
struct ChildPlan {
  const char* path = nullptr;
  std::vector<char*> argv, envp;
  const char* cwd = "/";
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1, report_fd = -1, cgroup_fd = -1;
};

enum Stage : int { kStdio = 0, kChdir = 1, kExec = 2 };

[[noreturn]] void child_main(const ChildPlan& p) {
  auto report = [&](int stage) {
    int msg[2] = {stage, errno};
    [[maybe_unused]] ssize_t n = ::write(p.report_fd, msg, sizeof msg);
    ::_exit(127);
  };
  if (p.cgroup_fd >= 0) {
    [[maybe_unused]] ssize_t n = ::write(p.cgroup_fd, "0", 1);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);  // the agent ignores it; exec keeps an ignore
  ::setpgid(0, 0);
  if (::dup2(p.stdin_fd, 0) < 0 || ::dup2(p.stdout_fd, 1) < 0 || ::dup2(p.stderr_fd, 2) < 0) {
    report(kStdio);
  }
  if (::chdir(p.cwd) != 0) report(kChdir);
  ::execve(p.path, p.argv.data(), p.envp.data());
  report(kExec);
  ::_exit(127);
}

}  // namespace

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_error("pipe2");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

Result<std::string> resolve_program(const std::string& name, std::string_view path,
                                    const std::string& cwd) {
  if (name.find('/') != std::string::npos) return name;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find(':', start), path.size());
    std::string dir(path.substr(start, end - start));
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    std::string checked = dir[0] == '/' ? candidate : cwd + "/" + candidate;
    if (is_executable_file(checked)) return candidate;
    start = end + 1;
  }
  return make_error("exec", "'" + name + "' not found in PATH=" + std::string(path));
}

Result<ChildReaper::Child> spawn_process(ChildReaper& reaper, const SpawnSpec& spec) {
  std::vector<std::string> argv = spec.argv, env = spec.env;
  ChildPlan plan;
  plan.path = spec.program.c_str();
  for (auto& s : argv) plan.argv.push_back(s.data());
  plan.argv.push_back(nullptr);
  for (auto& s : env) plan.envp.push_back(s.data());
  plan.envp.push_back(nullptr);
  plan.cwd = spec.cwd.c_str();
  plan.stdin_fd = spec.stdin_fd;
  plan.stdout_fd = spec.stdout_fd;
  plan.stderr_fd = spec.stderr_fd;
  plan.cgroup_fd = spec.cgroup_procs_fd;

  EMBER_TRY(Pipe report, make_pipe());
  plan.report_fd = report.write.get();
  EMBER_TRY(ChildReaper::Child child, reaper.spawn([&] { child_main(plan); }));
  ::setpgid(child.pid, child.pid);  // also here, so a kill(-pid) right away finds the group
  report.write.reset();

  // The report pipe closes on a successful execve (O_CLOEXEC) or carries {stage, errno}.
  int failure[2];
  ssize_t got;
  do {
    got = ::read(report.read.get(), failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof failure)) return child;
  reaper.forget(child.pid);
  errno = failure[1];
  if (failure[0] == kChdir) return errno_error("exec: chdir", "'" + spec.cwd + "'");
  if (failure[0] == kExec) return errno_error("exec", "'" + spec.program + "'");
  return errno_error("exec: set up stdio");
}

}  // namespace ember::agent
