// ChildReaper: the one thread that waits for child processes, so PID 1 reaps orphans while
// exec sessions still learn their own children's exit status.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::agent {

class ChildReaper {
 public:
  struct Child {
    pid_t pid = -1;
    UniqueFd exit_fd;  // an eventfd that turns readable once the child has been reaped
  };

  // Starts the reaper thread. Nothing else in the process may call wait*() on children:
  // the reaper takes every exit (that is the point for PID 1).
  ChildReaper();
  // Stops and joins the thread; children still running are left unreaped.
  ~ChildReaper();
  ChildReaper(const ChildReaper&) = delete;
  ChildReaper& operator=(const ChildReaper&) = delete;

  // fork()s and runs in_child in the child, which must only make async-signal-safe calls
  // and never return (exec or _exit). The child is registered before it can be reaped.
  Result<Child> spawn(const std::function<void()>& in_child);

  // The wait status of a spawned child once its exit_fd is readable (std::nullopt before);
  // forgets the child.
  std::optional<int> take_status(pid_t pid);
  // Forgets a child whose status is no longer wanted; it is still reaped.
  void forget(pid_t pid);

 private:
  struct Entry {
    UniqueFd notify;  // the reaper's end of the child's exit_fd
    std::optional<int> status;
    bool forgotten = false;
  };

  void loop();
  void record_exit(pid_t pid, int status);

  std::mutex mu_;
  std::condition_variable spawned_cv_;
  std::map<pid_t, Entry> children_;
  uint64_t generation_ = 0;  // bumped by every spawn, so the reaper knows to wait again
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ember::agent
