// ChildReaper: a thread blocked in waitpid(-1) that hands exit statuses to their spawners.
#include "guest-agent/child_reaper.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace ember::agent {

ChildReaper::ChildReaper() : thread_([this] { loop(); }) {}

ChildReaper::~ChildReaper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  spawned_cv_.notify_all();
  // The thread may be blocked in waitpid() on long-running children: a child that exits at
  // once wakes it.
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  thread_.join();
  if (pid > 0) ::waitpid(pid, nullptr, 0);  // in case the thread stopped before reaping it
}

Result<ChildReaper::Child> ChildReaper::spawn(const std::function<void()>& in_child) {
  UniqueFd exit_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!exit_fd) return errno_error("eventfd for a child's exit");
  UniqueFd notify(::fcntl(exit_fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!notify) return errno_error("dup eventfd");
  std::unique_lock lock(mu_);
  pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork");
  if (pid == 0) {
    in_child();
    ::_exit(127);
  }
  children_[pid] = Entry{std::move(notify), std::nullopt, false};
  ++generation_;
  lock.unlock();
  spawned_cv_.notify_all();
  return Child{pid, std::move(exit_fd)};
}

std::optional<int> ChildReaper::take_status(pid_t pid) {
  std::lock_guard lock(mu_);
  auto it = children_.find(pid);
  if (it == children_.end() || !it->second.status) return std::nullopt;
  int status = *it->second.status;
  children_.erase(it);
  return status;
}

void ChildReaper::forget(pid_t pid) {
  std::lock_guard lock(mu_);
  auto it = children_.find(pid);
  if (it == children_.end()) return;
  if (it->second.status) {
    children_.erase(it);
  } else {
    it->second.forgotten = true;
  }
}

void ChildReaper::record_exit(pid_t pid, int status) {
  std::lock_guard lock(mu_);
  auto it = children_.find(pid);
  if (it == children_.end()) return;  // an orphan that PID 1 inherited, or already forgotten
  if (it->second.forgotten) {
    children_.erase(it);
    return;
  }
  it->second.status = status;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(it->second.notify.get(), &one, sizeof one);
  it->second.notify.reset();
}

void ChildReaper::loop() {
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      seen = generation_;
    }
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid > 0) {
      record_exit(pid, status);
    } else if (errno == ECHILD) {
      // No children at all: nothing can exit until someone spawns one.
      std::unique_lock lock(mu_);
      spawned_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
    }
  }
}

}  // namespace ember::agent
