// spawn_process: the child's setup runs only async-signal-safe calls; a CLOEXEC report pipe
// tells the parent whether execve() happened.
#include "guest-agent/process_spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
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
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

enum Stage : int { kStdio, kChdir, kExec, kSetgroups, kSetgid, kSetuid, kNoNewPrivs };

[[noreturn]] void report_stage(const ChildPlan& p, int stage) {
  int msg[2] = {stage, errno};
  [[maybe_unused]] ssize_t n = ::write(p.report_fd, msg, sizeof msg);
  ::_exit(127);
}

// Groups first, then the gid, then the uid: once the uid is gone the others can't change.
void drop_privileges(const ChildPlan& p) {
  if (::setgroups(0, nullptr) != 0) report_stage(p, kSetgroups);
  if (::setresgid(p.gid, p.gid, p.gid) != 0) report_stage(p, kSetgid);
  if (::setresuid(p.uid, p.uid, p.uid) != 0) report_stage(p, kSetuid);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) report_stage(p, kNoNewPrivs);
}

[[noreturn]] void child_main(const ChildPlan& p) {
  auto report = [&](int stage) { report_stage(p, stage); };
  // While still root: cgroup.procs belongs to root.
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
  if (p.drop) drop_privileges(p);
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
  if (spec.drop_to) {
    plan.drop = true;
    plan.uid = spec.drop_to->uid;
    plan.gid = spec.drop_to->gid;
  }

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
  if (failure[0] >= kSetgroups && failure[0] <= kNoNewPrivs) {
    static constexpr const char* kCalls[] = {"setgroups(0)", "setresgid", "setresuid",
                                             "prctl(PR_SET_NO_NEW_PRIVS)"};
    std::string context = std::string(kCalls[failure[0] - kSetgroups]) + " for uid " +
                          std::to_string(plan.uid) + " gid " + std::to_string(plan.gid) +
                          " before running '" + spec.program + "'";
    if (errno == EPERM) context += " (the agent needs CAP_SETUID and CAP_SETGID: run it as root)";
    return errno_error(kDropPrivilegesOp, context);
  }
  return errno_error("exec: set up stdio");
}

}  // namespace ember::agent
