// run_exec: spawn with pipes, one poll loop for stdin, both outputs, exit and timeout.
#include "guest-agent/exec_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "guest-agent/monotonic_clock.h"

namespace ember::agent {
namespace {

// How long output is still read after the process exited, for its background children.
constexpr uint64_t kDrainGraceNs = 200'000'000;

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

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

  SpawnSpec spec;
  spec.program = program;
  spec.argv = request.argv;
  spec.env = request.env;
  if (!path_set) spec.env.push_back(std::string("PATH=") + kDefaultPath);
  spec.cwd = cwd;

  EMBER_TRY(Pipe in, make_pipe());
  EMBER_TRY(Pipe out, make_pipe());
  EMBER_TRY(Pipe err, make_pipe());
  spec.stdin_fd = in.read.get();
  spec.stdout_fd = out.write.get();
  spec.stderr_fd = err.write.get();

  const uint64_t start = monotonic_ns();
  EMBER_TRY(ChildReaper::Child child, spawn_process(reaper, spec));
  in.read.reset();
  out.write.reset();
  err.write.reset();

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
