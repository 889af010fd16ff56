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
  pages_read_ = 0;
  if (runs.empty()) return;
  thread_ = std::thread([this, runs = std::move(runs)] { run(runs); });
}

uint64_t PagePrefetcher::wait() {
  if (thread_.joinable()) thread_.join();
  return pages_read_;
}

void PagePrefetcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  stopping_ = false;
}

PagePrefetcher::Pause::Pause(PagePrefetcher* prefetcher) : prefetcher_(prefetcher) {
  if (prefetcher_ == nullptr) return;
  std::lock_guard lock(prefetcher_->mutex_);
  ++prefetcher_->pauses_;
}

PagePrefetcher::Pause::~Pause() {
  if (prefetcher_ == nullptr) return;
  {
    std::lock_guard lock(prefetcher_->mutex_);
    --prefetcher_->pauses_;
  }
  prefetcher_->changed_.notify_all();
}

bool PagePrefetcher::wait_unpaused() {
  if (pauses_ == 0 && !stopping_) return true;
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return pauses_ == 0 || stopping_; });
  return !stopping_;
}

void PagePrefetcher::run(const std::vector<GuestPageRun>& runs) {
  // Only when nothing else wants the vCPU: the handler always comes first.
  sched_param idle = {};
  ::sched_setscheduler(0, SCHED_IDLE, &idle);
  {
    std::unique_lock lock(mutex_);
    if (changed_.wait_for(lock, kStartDelay, [this] { return stopping_.load(); })) return;
  }
  UniqueFd mem(::open(mem_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!mem) {
    log_line("warning: no working-set prefetch: open " + mem_path_ + ": " + std::strerror(errno));
    return;
  }
  for (const GuestPageRun& run : runs) {
    for (uint64_t page = run.first_page; page < run.first_page + run.pages; ++page) {
      if (!wait_unpaused()) return;
      char byte = 0;
      const ssize_t n =
          ::pread(mem.get(), &byte, 1, static_cast<off_t>(page * kWorkingSetPageSize));
      if (n != 1) return;  // past the guest's memory (or not RAM): the rest is not either
      ++pages_read_;
    }
  }
}

}  // namespace ember::agent
