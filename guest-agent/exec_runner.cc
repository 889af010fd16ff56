// run_exec: fork/exec with pipes, one poll loop for stdin, both outputs, exit and timeout.
#include "guest-agent/exec_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <vector>

namespace ember::agent {
namespace {

// How long output is still read after the process exited, for its background children.
constexpr uint64_t kDrainGraceNs = 200'000'000;

uint64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

struct Pipe {
  UniqueFd read, write;
};

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_error("pipe2");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// argv[0] as execve() will need it: names with a '/' stay as they are (relative ones resolve
// against cwd after the child's chdir), others are looked up in PATH.
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

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

// Everything the child needs, built before fork() so the child only makes system calls.
struct ChildPlan {
  std::string path;
  std::vector<char*> argv, envp;
  const char* cwd = "/";
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1, report_fd = -1;
};

[[noreturn]] void child_main(const ChildPlan& p) {
  auto report = [&](int stage) {
    int msg[2] = {stage, errno};
    [[maybe_unused]] ssize_t n = ::write(p.report_fd, msg, sizeof msg);
    ::_exit(127);
  };
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);  // the agent ignores it; exec keeps an ignore
  ::setpgid(0, 0);
  if (::dup2(p.stdin_fd, 0) < 0 || ::dup2(p.stdout_fd, 1) < 0 || ::dup2(p.stderr_fd, 2) < 0) {
    report(0);
  }
  if (::chdir(p.cwd) != 0) report(1);
  ::execve(p.path.c_str(), p.argv.data(), p.envp.data());
  report(2);
  ::_exit(127);
}

struct Output {
  UniqueFd fd;
  std::string* data;
  bool* truncated;
};

// Reads what is available; closes the fd at EOF or on error.
void drain(Output& out, uint64_t cap, char* buf, size_t size) {
  ssize_t n = ::read(out.fd.get(), buf, size);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    out.fd.reset();
    return;
  }
  size_t keep =
      std::min<size_t>(static_cast<size_t>(n), cap - std::min<uint64_t>(cap, out.data->size()));
  out.data->append(buf, keep);
  if (keep < static_cast<size_t>(n)) *out.truncated = true;
}

}  // namespace

Result<ExecResult> run_exec(ChildReaper& reaper, const ExecRequest& request) {
  if (request.argv.empty()) return make_error("exec", "empty argv");
  bool path_set = false;
  std::string path_value = kDefaultPath;
  for (const auto& s : request.argv) {
    if (has_nul(s)) return make_error("exec", "NUL byte in argv");
  }
  for (const auto& s : request.env) {
    if (has_nul(s)) return make_error("exec", "NUL byte in env");
    if (s.starts_with("PATH=")) {
      path_set = true;
      path_value = s.substr(5);
    }
  }
  if (has_nul(request.cwd)) return make_error("exec", "NUL byte in cwd");
  std::string cwd = request.cwd.empty() ? "/" : request.cwd;
  EMBER_TRY(std::string program, resolve_program(request.argv[0], path_value, cwd));

  std::vector<std::string> env = request.env;
  if (!path_set) env.push_back(std::string("PATH=") + kDefaultPath);
  std::vector<std::string> argv = request.argv;
  ChildPlan plan;
  plan.path = program;
  for (auto& s : argv) plan.argv.push_back(s.data());
  plan.argv.push_back(nullptr);
  for (auto& s : env) plan.envp.push_back(s.data());
  plan.envp.push_back(nullptr);
  plan.cwd = cwd.c_str();

  EMBER_TRY(Pipe in, make_pipe());
  EMBER_TRY(Pipe out, make_pipe());
  EMBER_TRY(Pipe err, make_pipe());
  EMBER_TRY(Pipe report, make_pipe());
  plan.stdin_fd = in.read.get();
  plan.stdout_fd = out.write.get();
  plan.stderr_fd = err.write.get();
  plan.report_fd = report.write.get();

  const uint64_t start = monotonic_ns();
  EMBER_TRY(ChildReaper::Child child, reaper.spawn([&] { child_main(plan); }));
  ::setpgid(child.pid, child.pid);  // also here, so a kill(-pid) right away finds the group
  in.read.reset();
  out.write.reset();
  err.write.reset();
  report.write.reset();

  // The report pipe closes on a successful execve (O_CLOEXEC) or carries {stage, errno}.
  int failure[2];
  ssize_t got;
  do {
    got = ::read(report.read.get(), failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    reaper.forget(child.pid);
    errno = failure[1];
    if (failure[0] == 1) return errno_error("exec: chdir", "'" + cwd + "'");
    if (failure[0] == 2) return errno_error("exec", "'" + program + "'");
    return errno_error("exec: set up stdio");
  }

  ExecResult result;
  const uint64_t cap = std::min(request.output_cap, kMaxExecOutputCap);
  const uint64_t deadline =
      request.timeout_ms ? start + uint64_t{request.timeout_ms} * 1'000'000 : 0;
  Output outputs[2] = {{std::move(out.read), &result.stdout_data, &result.stdout_truncated},
                       {std::move(err.read), &result.stderr_data, &result.stderr_truncated}};
  UniqueFd stdin_fd = std::move(in.write);
  size_t stdin_off = 0;
  if (request.stdin_data.empty()) stdin_fd.reset();
  for (auto* fd : {&stdin_fd, &outputs[0].fd, &outputs[1].fd}) {
    if (*fd) ::fcntl(fd->get(), F_SETFL, ::fcntl(fd->get(), F_GETFL) | O_NONBLOCK);
  }

  std::vector<char> buf(64 * 1024);
  bool exited = false;
  int status = 0;
  uint64_t end = 0;
  for (;;) {
    uint64_t now = monotonic_ns();
    if (!exited && deadline && now >= deadline && !result.timed_out) {
      ::kill(-child.pid, SIGKILL);
      ::kill(child.pid, SIGKILL);
      result.timed_out = true;
    }
    if (exited && (now >= end + kDrainGraceNs || (!outputs[0].fd && !outputs[1].fd))) break;
    int wait_ms = -1;
    uint64_t until = exited ? end + kDrainGraceNs : (result.timed_out ? 0 : deadline);
    if (until) wait_ms = static_cast<int>((until - std::min(until, now) + 999'999) / 1'000'000);

    pollfd fds[4];
    int n = 0;
    int in_idx = -1, out_idx[2] = {-1, -1}, exit_idx = -1;
    if (stdin_fd) fds[in_idx = n++] = {stdin_fd.get(), POLLOUT, 0};
    for (int i = 0; i < 2; ++i) {
      if (outputs[i].fd) fds[out_idx[i] = n++] = {outputs[i].fd.get(), POLLIN, 0};
    }
    if (!exited) fds[exit_idx = n++] = {child.exit_fd.get(), POLLIN, 0};
    if (::poll(fds, n, wait_ms) < 0) {
      if (errno == EINTR) continue;
      return errno_error("exec: poll");
    }
    if (in_idx >= 0 && fds[in_idx].revents) {
      size_t left = request.stdin_data.size() - stdin_off;
      ssize_t w = ::write(stdin_fd.get(), request.stdin_data.data() + stdin_off,
                          std::min<size_t>(left, 64 * 1024));
      if (w > 0) stdin_off += static_cast<size_t>(w);
      // EPIPE: the process stopped reading; what it did not take is simply not delivered.
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || stdin_off == request.stdin_data.size()) {
        stdin_fd.reset();
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (out_idx[i] >= 0 && fds[out_idx[i]].revents)
        drain(outputs[i], cap, buf.data(), buf.size());
    }
    if (exit_idx >= 0 && fds[exit_idx].revents) {
      std::optional<int> s = reaper.take_status(child.pid);
      if (s) {
        exited = true;
        status = *s;
        end = monotonic_ns();
        stdin_fd.reset();
      }
    }
  }

  result.duration_ns = end - start;
  if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
    result.exit_code = -1;
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace ember::agent
