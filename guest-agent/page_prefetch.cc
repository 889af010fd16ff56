// PagePrefetcher: one pread of one byte per page, at idle priority, in a thread of its own.
#include "guest-agent/page_prefetch.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"
#include "guest-agent/init_system.h"

namespace ember::agent {

void PagePrefetcher::start(std::vector<GuestPageRun> runs) {
  stop();
  std::lock_guard control(control_);
  pages_read_ = 0;
  if (runs.empty()) return;
  thread_ = std::thread([this, runs = std::move(runs)] { run(runs); });
}

uint64_t PagePrefetcher::wait() {
  std::lock_guard control(control_);
  if (thread_.joinable()) thread_.join();
  return pages_read_;
}

void PagePrefetcher::stop() {
  std::lock_guard control(control_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_requested_ = true;
  }
  stop_requested_cv_.notify_all();
  thread_.join();
  stop_requested_ = false;
}

void PagePrefetcher::run(const std::vector<GuestPageRun>& runs) {
  // Only when nothing else wants the vCPU: the guest's own work always comes first.
  sched_param idle = {};
  ::sched_setscheduler(0, SCHED_IDLE, &idle);
  {
    std::unique_lock lock(mutex_);
    if (stop_requested_cv_.wait_for(lock, kStartDelay, [this] { return stop_requested_.load(); })) {
      return;
    }
  }
  UniqueFd mem(::open(mem_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!mem) {
    log_line("warning: no working-set prefetch: open " + mem_path_ + ": " + std::strerror(errno));
    return;
  }
  for (const GuestPageRun& run : runs) {
    for (uint64_t page = run.first_page; page < run.first_page + run.pages; ++page) {
      if (stop_requested_) return;
      char byte = 0;
      const ssize_t n =
          ::pread(mem.get(), &byte, 1, static_cast<off_t>(page * kWorkingSetPageSize));
      if (n != 1) return;  // past the guest's memory (or not RAM): the rest is not either
      ++pages_read_;
    }
  }
}

}  // namespace ember::agent
