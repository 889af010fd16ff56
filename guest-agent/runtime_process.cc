// RuntimeProcess: spawn through the reaper, then a monitor thread polling the output pipe,
// the exit eventfd and a stop eventfd.
#include "guest-agent/runtime_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "guest-agent/init_system.h"
#include "guest-agent/monotonic_clock.h"
#include "guest-agent/process_memory.h"

namespace ember::agent {
namespace {

// How long output is still read after the runtime exited, for its background children.
constexpr uint64_t kDrainGraceNs = 200'000'000;
// Bytes one read_output() call takes at most, so a chatty runtime cannot hold the lock.
constexpr size_t kMaxReadPerCall = 4u << 20;

Status write_file(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno_error("open", path);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return errno_error("write", path);
  }
  return {};
}

// The cgroup.procs file of cgroup_dir, creating the cgroup with the memory controller.
Result<UniqueFd> open_cgroup(const std::string& cgroup_dir) {
  std::string parent = cgroup_dir.substr(0, cgroup_dir.rfind('/'));
  // Already enabled, or not available: the open below tells.
  (void)write_file(parent + "/cgroup.subtree_control", "+memory");
  if (::mkdir(cgroup_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return errno_error("create the runtime's cgroup", cgroup_dir);
  }
  UniqueFd procs(::open((cgroup_dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!procs) return errno_error("open", cgroup_dir + "/cgroup.procs");
  return procs;
}

}  // namespace

Result<std::unique_ptr<RuntimeProcess>> RuntimeProcess::start(ChildReaper& reaper, SpawnSpec spec,
                                                              LogBuffer& log, ExitHandler on_exit,
                                                              const std::string& cgroup_dir) {
  std::unique_ptr<RuntimeProcess> p(new RuntimeProcess(reaper, log, std::move(on_exit)));
  p->stop_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!p->stop_) return errno_error("eventfd");
  EMBER_TRY(Pipe input, make_pipe());
  input.write.reset();  // stdin reads EOF at once
  EMBER_TRY(Pipe output, make_pipe());
  UniqueFd cgroup_procs;
  if (!cgroup_dir.empty()) {
    auto procs = open_cgroup(cgroup_dir);
    if (procs.ok()) {
      cgroup_procs = std::move(procs).value();
      p->cgroup_dir_ = cgroup_dir;
    } else {
      log_line("warning: runtime memory measured without a cgroup: " + procs.error().message());
    }
  }
  spec.stdin_fd = input.read.get();
  spec.stdout_fd = output.write.get();
  spec.stderr_fd = output.write.get();
  spec.cgroup_procs_fd = cgroup_procs.get();
  p->oom_kills_at_start_ = oom_kill_count();
  EMBER_TRY(ChildReaper::Child child, spawn_process(reaper, spec));
  output.write.reset();
  p->pid_ = child.pid;
  p->exit_fd_ = std::move(child.exit_fd);
  p->output_ = std::move(output.read);
  ::fcntl(p->output_.get(), F_SETFL, ::fcntl(p->output_.get(), F_GETFL) | O_NONBLOCK);
  p->monitor_ = std::thread([raw = p.get()] { raw->monitor(); });
  return p;
}

RuntimeProcess::~RuntimeProcess() {
  if (pid_ <= 0) return;  // start() failed before the process existed
  if (!exited_) kill();
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(stop_.get(), &one, sizeof one);
  if (monitor_.joinable()) monitor_.join();
  if (!exited_) reaper_.forget(pid_);
}

void RuntimeProcess::kill() {
  // Never with pid_ <= 1: kill(-1) would signal every process on the machine.
  if (pid_ <= 1) return;
  ::kill(-pid_, SIGKILL);  // the group spawn_process made, with whatever the runtime started
  if (!exited_) ::kill(pid_, SIGKILL);  // in case it left that group; not once reaped
}

void RuntimeProcess::read_output() {
  char buf[64 * 1024];
  size_t total = 0;
  while (!output_eof_ && total < kMaxReadPerCall) {
    ssize_t n = ::read(output_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      output_eof_ = true;
      return;
    }
    log_.append(std::string_view(buf, static_cast<size_t>(n)));
    total += static_cast<size_t>(n);
  }
}

void RuntimeProcess::collect_output() {
  std::lock_guard lock(read_mu_);
  read_output();
}

uint64_t RuntimeProcess::peak_memory_bytes() const {
  if (!cgroup_dir_.empty()) {
    if (auto peak = cgroup_memory_peak(cgroup_dir_)) return *peak;
  }
  return process_group_peak_rss(pid_);
}

void RuntimeProcess::monitor() {
  std::optional<int> status;
  uint64_t exited_at = 0;
  for (;;) {
    bool output_open;
    {
      std::lock_guard lock(read_mu_);
      output_open = !output_eof_;
    }
    uint64_t now = monotonic_ns();
    if (status && (!output_open || now >= exited_at + kDrainGraceNs)) break;
    pollfd fds[3] = {{stop_.get(), POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
    if (output_open) fds[1].fd = output_.get();  // closed only below, by this thread
    if (!status) fds[2].fd = exit_fd_.get();
    int wait_ms = status ? static_cast<int>((exited_at + kDrainGraceNs - now) / 1'000'000 + 1) : -1;
    if (::poll(fds, 3, wait_ms) < 0) continue;  // EINTR
    if (fds[0].revents) return;
    if (fds[1].revents) {
      std::lock_guard lock(read_mu_);
      read_output();
    }
    if (fds[2].revents) {
      status = reaper_.take_status(pid_);
      if (status) exited_at = monotonic_ns();
    }
  }
  {
    std::lock_guard lock(read_mu_);
    output_eof_ = true;
    output_.reset();
  }
  RuntimeExit exit;
  if (WIFSIGNALED(*status)) {
    exit.term_signal = WTERMSIG(*status);
    exit.out_of_memory = exit.term_signal == SIGKILL && oom_kill_count() > oom_kills_at_start_;
  } else {
    exit.exit_code = WEXITSTATUS(*status);
  }
  exited_ = true;
  on_exit_(exit);
}

}  // namespace ember::agent
