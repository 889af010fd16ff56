// VmProcess: posix_spawn (or clone3, into namespaces or a cgroup) of ember-vmm with its
// output in files or memfds, reaped on drop.
#include "host/vm_client.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

namespace ember::host {
namespace {

Result<UniqueFd> open_output(const std::string& path, bool capture, const char* name) {
  int fd;
  if (!path.empty()) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return errno_error("open output file", path);
  } else if (capture) {
    fd = ::memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return errno_error("memfd_create", name);
  } else {
    fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno_error("open", "/dev/null");
  }
  return UniqueFd(fd);
}

int decode_status(int status) {
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

std::string read_tail(const UniqueFd& fd, size_t max_bytes) {
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  size_t size = static_cast<size_t>(st.st_size);
  size_t start = size > max_bytes ? size - max_bytes : 0;
  std::string out(size - start, '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd.get(), out.data() + got, out.size() - got, off_t(start + got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

// What a child cloned into new namespaces does before its exec: only async-signal-safe calls,
// on data prepared by the parent (the parent may have other threads holding locks).
struct CloneChild {
  int in_fd, out_fd, err_fd, net_fd, lifeline_fd;
  int report_fd;  // close-on-exec pipe: the exec's errno is written here if it fails
  char** argv;
  char** envp;
};

int clone_child_main(void* arg) {
  const CloneChild& c = *static_cast<const CloneChild*>(arg);
  auto fail = [&](int err) {
    (void)!::write(c.report_fd, &err, sizeof(err));
    ::_exit(127);
  };
  if (::dup2(c.in_fd, 0) < 0 || ::dup2(c.out_fd, 1) < 0 || ::dup2(c.err_fd, 2) < 0) fail(errno);
  if (c.net_fd >= 0 && ::dup2(c.net_fd, kChildNetFd) < 0) fail(errno);
  if (c.lifeline_fd >= 0 && ::dup2(c.lifeline_fd, kChildLifelineFd) < 0) fail(errno);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);  // handled signals reset at exec; ignored ones would not
  ::execve(c.argv[0], c.argv, c.envp);
  fail(errno);
  return 127;
}

// clone3(2) of argv into options' namespaces and cgroup with the given stdio and
// descriptors; the child's pid. Fork-like (no CLONE_VM, no stack of its own): the child runs
// on a copy of this thread's stack until its exec.
Result<pid_t> clone_spawn(const std::vector<std::string>& argv, const SpawnOptions& options,
                          int in_fd, int out_fd, int err_fd, int net_fd, int lifeline_fd) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return errno_error("spawn", "pipe");
  UniqueFd report_read(report[0]), report_write(report[1]);
  CloneChild child{in_fd, out_fd, err_fd, net_fd, lifeline_fd, report[1], args.data(), environ};
  clone_args clone{};
  clone.flags = static_cast<uint64_t>(options.namespaces);
  if (options.cgroup_fd >= 0) {
    clone.flags |= CLONE_INTO_CGROUP;
    clone.cgroup = static_cast<uint64_t>(options.cgroup_fd);
  }
  clone.exit_signal = SIGCHLD;
  const long pid = ::syscall(SYS_clone3, &clone, sizeof clone);
  if (pid == 0) clone_child_main(&child);  // execs or _exits
  if (pid < 0) {
    return errno_error("spawn " + argv[0] + (options.namespaces != 0 ? " in new namespaces" : "") +
                           (options.cgroup_fd >= 0 ? " in its cgroup" : ""),
                       "clone3 (needs root; emberd --jail off runs VMMs unjailed)");
  }
  report_write.reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report_read.get(), &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  if (n == sizeof(child_errno)) {
    int status;
    while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
    }
    errno = child_errno;
    return errno_error("spawn", argv[0]);
  }
  return static_cast<pid_t>(pid);
}

// A close-on-exec copy of fd above every number a child is given, so that dup2 onto the
// child's numbers neither keeps close-on-exec (dup2 onto itself) nor clobbers another.
Result<UniqueFd> above_child_fds(int fd) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, kChildLifelineFd + 1));
  if (!copy) return errno_error("spawn", "duplicate descriptor " + std::to_string(fd));
  return copy;
}

}  // namespace

Result<std::string> find_executable(const std::string& name) {
  namespace fs = std::filesystem;
  if (name.find('/') != std::string::npos) {
    std::error_code ec;
    fs::path p = fs::absolute(name, ec);
    if (ec) return make_error("find " + name, ec.message());
    return p.lexically_normal().string();
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return fs::absolute(candidate).string();
    start = end + 1;
  }
  Error e = make_error("find " + name, "it is not in PATH; give its absolute path");
  e.code = ENOENT;
  return e;
}

int lifeline_read_end() {
  static const int read_end = [] {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) {
      std::perror("emberd: cannot make the VMMs' lifeline pipe");
      std::abort();
    }
    return ends[0];  // ends[1], the write end, stays open until this process ends
  }();
  return read_end;
}

std::vector<std::string> vmm_command(const VmConfig& c) {
  std::vector<std::string> argv = {c.vmm_path, "--kernel", c.kernel};
  auto add = [&](const char* flag, const std::string& value) {
    if (!value.empty()) {
      argv.push_back(flag);
      argv.push_back(value);
    }
  };
  add("--initrd", c.initrd);
  add("--root", c.root);
  for (const auto& disk : c.disks) add("--disk", disk);
  add("--mem-mib", std::to_string(c.mem_mib));
  add("--vcpus", std::to_string(c.vcpus));
  if (!c.vsock_uds.empty()) {
    add("--vsock-cid", std::to_string(c.vsock_cid));
    add("--vsock-uds", c.vsock_uds);
  }
  add("--cmdline", c.extra_cmdline);
  if (c.net_fd >= 0) {
    const auto net = vmm_net_flags(c.netns_path);
    argv.insert(argv.end(), net.begin(), net.end());
  }
  if (c.console) argv.push_back("--console");
  add("--log-level", c.log_level);
  return argv;
}

std::vector<std::string> vmm_net_flags(const std::string& netns_path) {
  std::vector<std::string> flags;
  if (!netns_path.empty()) flags = {"--netns", netns_path};
  flags.insert(flags.end(), {"--net-fd", std::to_string(kChildNetFd)});
  return flags;
}

Result<VmProcess> VmProcess::spawn(const VmConfig& config) {
  if (config.kernel.empty()) return make_error("spawn ember-vmm", "no kernel given");
  SpawnOptions options;
  options.stdout_path = config.stdout_path;
  options.stderr_path = config.stderr_path;
  options.capture_stdout = config.capture_stdout;
  options.net_fd = config.net_fd;
  return spawn_command(vmm_command(config), options);
}

Result<VmProcess> VmProcess::spawn_command(const std::vector<std::string>& argv,
                                           const SpawnOptions& options) {
  if (argv.empty()) return make_error("spawn", "empty command");
  VmProcess process;
  EMBER_TRY(process.stdout_fd_,
            open_output(options.stdout_path, options.capture_stdout, "vm-stdout"));
  EMBER_TRY(process.stderr_fd_, open_output(options.stderr_path, true, "vm-stderr"));
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull) return errno_error("open", "/dev/null");

  int net_fd = options.net_fd, lifeline_fd = options.lifeline_fd;
  UniqueFd net_copy, lifeline_copy;
  if (net_fd >= 0) {
    EMBER_TRY(net_copy, above_child_fds(net_fd));
    net_fd = net_copy.get();
  }
  if (lifeline_fd >= 0) {
    EMBER_TRY(lifeline_copy, above_child_fds(lifeline_fd));
    lifeline_fd = lifeline_copy.get();
  }
  if (options.namespaces != 0 || options.cgroup_fd >= 0) {
    std::vector<std::string> resolved = argv;
    EMBER_TRY(resolved[0], find_executable(argv[0]));
    EMBER_TRY(process.pid_, clone_spawn(resolved, options, devnull.get(), process.stdout_fd_.get(),
                                        process.stderr_fd_.get(), net_fd, lifeline_fd));
    return process;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_adddup2(&actions, devnull.get(), 0);
  ::posix_spawn_file_actions_adddup2(&actions, process.stdout_fd_.get(), 1);
  ::posix_spawn_file_actions_adddup2(&actions, process.stderr_fd_.get(), 2);
  if (net_fd >= 0) ::posix_spawn_file_actions_adddup2(&actions, net_fd, kChildNetFd);
  if (lifeline_fd >= 0) {
    ::posix_spawn_file_actions_adddup2(&actions, lifeline_fd, kChildLifelineFd);
  }
  // The child starts with no blocked signals and default SIGPIPE whatever the daemon set.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &defaults);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return errno_error("spawn", argv[0]);
  }
  process.pid_ = pid;
  return process;
}

VmProcess::VmProcess(VmProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      exit_code_(std::exchange(other.exit_code_, std::nullopt)),
      stdout_fd_(std::move(other.stdout_fd_)),
      stderr_fd_(std::move(other.stderr_fd_)) {}

VmProcess& VmProcess::operator=(VmProcess&& other) noexcept {
  if (this != &other) {
    if (running()) {
      ::kill(pid_, SIGKILL);
      reap_blocking();
    }
    pid_ = std::exchange(other.pid_, -1);
    exit_code_ = std::exchange(other.exit_code_, std::nullopt);
    stdout_fd_ = std::move(other.stdout_fd_);
    stderr_fd_ = std::move(other.stderr_fd_);
  }
  return *this;
}

VmProcess::~VmProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    reap_blocking();
  }
}

void VmProcess::reap_blocking() {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  exit_code_ = r == pid_ ? decode_status(status) : 128 + SIGKILL;
}

Result<int> VmProcess::wait() {
  if (pid_ <= 0) return make_error("wait", "no process");
  if (!exit_code_) {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid_) return errno_error("waitpid", std::to_string(pid_));
    exit_code_ = decode_status(status);
  }
  return *exit_code_;
}

Result<std::optional<int>> VmProcess::wait_for(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return make_error("wait", "no process");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto step = std::chrono::milliseconds(1);
  while (!exit_code_) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = decode_status(status);
      break;
    }
    if (r < 0 && errno != EINTR) return errno_error("waitpid", std::to_string(pid_));
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::optional<int>();
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(step, deadline - now));
    step = std::min(step * 2, std::chrono::milliseconds(10));
  }
  return std::optional<int>(*exit_code_);
}

Status VmProcess::kill(int signal) {
  if (!running()) return {};
  if (::kill(pid_, signal) != 0) return errno_error("kill", std::to_string(pid_));
  return {};
}

std::string VmProcess::stderr_output(size_t max_bytes) const {
  return read_tail(stderr_fd_, max_bytes);
}

std::string VmProcess::stdout_output(size_t max_bytes) const {
  return read_tail(stdout_fd_, max_bytes);
}

namespace {

std::string describe_vmm_exit(int exit_code) {
  if (exit_code > 128) {
    const int signal = exit_code - 128;
    const char* name = ::sigabbrev_np(signal);
    std::string how = "was killed by " + (name != nullptr ? "SIG" + std::string(name)
                                                           : "signal " + std::to_string(signal));
    if (signal == SIGSYS) {
      how += " (it made a system call its seccomp filter forbids; run it with --seccomp log "
             "and look for audit type=1326 records in dmesg to see which)";
    }
    return how;
  }
  static const char* const kMeanings[] = {"the guest shut down", "a VMM error", "a usage error",
                                          "the guest crashed"};
  std::string how = "exited with status " + std::to_string(exit_code);
  if (exit_code >= 0 && exit_code < 4) how += " (" + std::string(kMeanings[exit_code]) + ")";
  return how;
}

}  // namespace

std::string describe_vmm_end(VmProcess& process) {
  constexpr std::chrono::milliseconds kExitGrace{200};
  auto exited = process.wait_for(kExitGrace);
  if (!exited.ok() || !exited->has_value()) return {};
  return "ember-vmm " + describe_vmm_exit(**exited);
}

Error with_vmm_output(Error error, VmProcess& process) {
  std::string detail = describe_vmm_end(process);
  std::string output = process.stderr_output(4096);
  while (!output.empty() && output.back() == '\n') output.pop_back();
  if (!output.empty()) detail += (detail.empty() ? "" : "; ") + ("ember-vmm stderr:\n" + output);
  if (detail.empty()) return error;
  return make_error(error.message(), detail);
}

bool VmProcess::alive() {
  auto exited = wait_for(std::chrono::milliseconds(0));
  return exited.ok() && !exited->has_value();
}

Status run_tool(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  EMBER_TRY(VmProcess tool, VmProcess::spawn_command(argv));
  EMBER_TRY(std::optional<int> status, tool.wait_for(timeout));
  if (!status) {
    return make_error("run " + argv[0], "did not finish within " +
                                           std::to_string(timeout.count() / 1000) + " s");
  }
  if (*status != 0) {
    return make_error("run " + argv[0],
                      "exited with " + std::to_string(*status) + ": " + tool.stderr_output(4096));
  }
  return {};
}

}  // namespace ember::host
