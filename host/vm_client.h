// VmProcess: one ember-vmm child process (or any command) owned with RAII.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::host {

// The descriptor numbers a spawned ember-vmm finds its tap (its --net-fd) and its
// lifeline (its --lifeline-fd) on.
inline constexpr int kChildNetFd = 3;
inline constexpr int kChildLifelineFd = 4;

// The read end of this process's lifeline, a pipe made on first use whose write end only
// this process holds (close-on-exec) until it exits, however it exits. A VMM given the read
// end sees hang-up then and stops: no VMM outlives emberd. Nothing is ever written.
int lifeline_read_end();

// The flags of one ember-vmm run (docs/vmm-interfaces.md); empty strings are left out.
struct VmConfig {
  std::string vmm_path = "ember-vmm";  // looked up in PATH when it has no '/'
  std::string kernel;                  // required
  std::string initrd;
  std::string root;                // /dev/vda, read-only
  std::vector<std::string> disks;  // "PATH", "PATH:ro" or "PATH:rw": /dev/vdb, ...
  uint64_t mem_mib = 128;
  uint32_t vcpus = 1;
  uint32_t vsock_cid = 3;
  std::string vsock_uds;  // empty: no vsock device
  std::string extra_cmdline;
  // A tap the VM's virtio-net device uses (passed as kChildNetFd) and the network namespace
  // ember-vmm joins; -1: no network device.
  int net_fd = -1;
  std::string netns_path;
  bool console = false;   // kernel messages on the serial console (stdout)
  std::string log_level;  // error|warn|info|debug; empty: the VMM's default
  // Where the child's stdout (the guest console) and stderr (the VMM's messages) go. Empty
  // stdout_path: discarded unless capture_stdout; empty stderr_path: kept in memory.
  std::string stdout_path;
  bool capture_stdout = false;
  std::string stderr_path;
};

// The absolute path of a program: name made absolute when it has a '/', else the first
// executable `name` in PATH; an error naming it otherwise.
Result<std::string> find_executable(const std::string& name);

// The ember-vmm command line for a config, argv[0] included.
std::vector<std::string> vmm_command(const VmConfig& config);

// --netns PATH --net-fd kChildNetFd: the flags of a VMM spawned with a tap.
std::vector<std::string> vmm_net_flags(const std::string& netns_path);

// How VmProcess::spawn_command starts a child.
struct SpawnOptions {
  // Empty paths: stdout discarded (or captured in memory when capture_stdout), stderr
  // captured in memory.
  std::string stdout_path;
  std::string stderr_path;
  bool capture_stdout = false;
  int net_fd = -1;       // >= 0: given to the child as kChildNetFd
  int lifeline_fd = -1;  // >= 0: given to the child as kChildLifelineFd
  int namespaces = 0;    // CLONE_NEW* flags: the child starts in new namespaces
  int cgroup_fd = -1;    // >= 0: a cgroup v2 directory the child starts in (its limits apply
                         // from its first instruction)
};

class VmProcess {
 public:
  // Starts ember-vmm for config. Fails if the binary cannot be run (not found, not
  // executable) or an output file cannot be opened.
  static Result<VmProcess> spawn(const VmConfig& config);

  // Starts any command (tests, tools, ember-jailer) with options' output handling and
  // descriptors (argv[0] looked up in PATH when it has no '/'). With namespaces or a cgroup
  // the child is cloned (clone3) into them; with CLONE_NEWPID it is PID 1 of its PID
  // namespace and still this process's child.
  static Result<VmProcess> spawn_command(const std::vector<std::string>& argv,
                                         const SpawnOptions& options = {});

  VmProcess(VmProcess&& other) noexcept;
  VmProcess& operator=(VmProcess&& other) noexcept;
  VmProcess(const VmProcess&) = delete;
  VmProcess& operator=(const VmProcess&) = delete;
  // Kills (SIGKILL) and reaps the process if it is still running.
  ~VmProcess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exit_code_; }

  // Blocks until the process exits; its exit code, or 128 + signal if a signal killed it
  // (for ember-vmm: 0 clean guest shutdown, 1 VMM error, 2 usage, 3 guest crash).
  Result<int> wait();
  // As wait(), but gives std::nullopt if the process is still running after timeout.
  Result<std::optional<int>> wait_for(std::chrono::milliseconds timeout);
  // Reaps the process if it has exited, without waiting; true while it still runs.
  bool alive();
  // Sends a signal if the process is still running.
  Status kill(int signal);

  // What the process wrote to stderr (and stdout when captured) so far; at most the last
  // max_bytes. Reads the file when the output went to a path.
  std::string stderr_output(size_t max_bytes = 64 * 1024) const;
  std::string stdout_output(size_t max_bytes = 64 * 1024) const;

 private:
  VmProcess() = default;
  void reap_blocking();

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  UniqueFd stdout_fd_;  // a memfd or the file written, for reading back
  UniqueFd stderr_fd_;
};

// Runs a tool (mkfs and the like) to its end: an error naming it, with its stderr, unless
// it exits 0 within timeout (it is killed then).
Status run_tool(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// How the VMM ended, if it ends within a moment (it may still be on its way out after
// closing its sockets): "ember-vmm exited with status 3 (the guest crashed)", "ember-vmm was
// killed by SIGSYS (...)"; empty while it runs.
std::string describe_vmm_end(VmProcess& process);

// The error with describe_vmm_end and the VMM's last stderr lines appended.
Error with_vmm_output(Error error, VmProcess& process);

}  // namespace ember::host
