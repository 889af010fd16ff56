// RuntimeProcess: the function's runtime as a child process group, its output captured into a
// LogBuffer and its exit (with OOM kills told apart) reported once.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "common/unique_fd.h"
#include "guest-agent/child_reaper.h"
#include "guest-agent/lambda_error.h"
#include "guest-agent/log_buffer.h"
#include "guest-agent/process_spawn.h"

namespace ember::agent {

class RuntimeProcess {
 public:
  using ExitHandler = std::function<void(const RuntimeExit&)>;

  // Starts spec in its own process group with stdin at EOF and stdout and stderr sharing one
  // pipe (so their lines stay in order) whose bytes go to `log`. With a cgroup_dir, the
  // process starts inside that cgroup v2 directory (created, with the memory controller
  // enabled on its parent, when possible; otherwise it is left out with a warning).
  // on_exit runs once, on the monitor thread, after the process was reaped and its output
  // read to EOF (or for 200 ms while its background children hold the pipe); an exit by
  // SIGKILL while the kernel's oom_kill count rose is reported as out_of_memory.
  // Errors: those of spawn_process() (program missing or not executable, bad cwd).
  static Result<std::unique_ptr<RuntimeProcess>> start(ChildReaper& reaper, SpawnSpec spec,
                                                       LogBuffer& log, ExitHandler on_exit,
                                                       const std::string& cgroup_dir = {});
  // Kills the process group if the runtime still runs and stops the monitor (on_exit is not
  // called after that).
  ~RuntimeProcess();
  RuntimeProcess(const RuntimeProcess&) = delete;
  RuntimeProcess& operator=(const RuntimeProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool exited() const { return exited_; }
  // SIGKILL to the whole process group.
  void kill();
  // Moves what the pipe holds right now into the log: everything the runtime wrote before
  // the request that made the caller ask (write() is done before the HTTP request is sent).
  void collect_output();
  // Peak memory: the cgroup's memory.peak when the runtime runs in one, else the sum of
  // VmHWM over the live processes of its group (process_group_peak_rss).
  uint64_t peak_memory_bytes() const;

 private:
  RuntimeProcess(ChildReaper& reaper, LogBuffer& log, ExitHandler on_exit)
      : reaper_(reaper), log_(log), on_exit_(std::move(on_exit)) {}

  void monitor();
  // Reads the pipe into the log until it would block (bounded). read_mu_ must be held.
  void read_output();

  ChildReaper& reaper_;
  LogBuffer& log_;
  ExitHandler on_exit_;
  pid_t pid_ = -1;
  UniqueFd exit_fd_;
  std::mutex read_mu_;  // one reader of the pipe at a time, so the log keeps its order
  UniqueFd output_;     // read end, non-blocking; closed by the monitor when it ends
  bool output_eof_ = false;
  UniqueFd stop_;  // eventfd: ends the monitor
  std::string cgroup_dir_;
  uint64_t oom_kills_at_start_ = 0;
  std::atomic<bool> exited_{false};
  std::thread monitor_;
};

}  // namespace ember::agent
