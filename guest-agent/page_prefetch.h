// PagePrefetcher: after a restore, reads one byte of each page of the snapshot's working set
// through /dev/mem, in a background thread at SCHED_IDLE priority. Each read is the guest's
// first touch of that page, so KVM maps it then, while the vCPU would otherwise be idle,
// instead of while the handler runs. (KVM_PRE_FAULT_MEMORY does this from the host, on Linux
// 6.10+; before that, only a guest access can.)
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/working_set.h"

namespace ember::agent {

class PagePrefetcher {
 public:
  // The prefetch starts this long after the Refresh, and waits while an invocation runs:
  // after a restore on demand the Invoke comes at once, and its handler (with the host's
  // side of it) should not share the CPU with it; a VM that waits in the pool has time.
  static constexpr std::chrono::milliseconds kStartDelay{100};

  // While one lives (an invocation runs), the prefetch waits before its next page.
  class Pause {
   public:
    explicit Pause(PagePrefetcher* prefetcher);  // null: nothing to pause
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;
    ~Pause();

   private:
    PagePrefetcher* prefetcher_;
  };

  // mem_path: the guest's physical memory (a plain file in tests).
  explicit PagePrefetcher(std::string mem_path = "/dev/mem") : mem_path_(std::move(mem_path)) {}
  PagePrefetcher(const PagePrefetcher&) = delete;
  PagePrefetcher& operator=(const PagePrefetcher&) = delete;
  ~PagePrefetcher() { stop(); }

  // Stops a prefetch still running, then reads runs' pages in order in the background
  // (nothing for no runs). Pages beyond the end of the memory end it. start(), wait() and
  // stop() are called from one thread at a time (the Refresh's session); a Pause from any.
  void start(std::vector<GuestPageRun> runs);
  // Waits for the running prefetch to finish; returns the pages the last one read.
  uint64_t wait();
  // The pages read so far.
  uint64_t pages_read() const { return pages_read_; }
  // Asks the running prefetch to stop after its current page, and waits for it.
  void stop();

 private:
  void run(const std::vector<GuestPageRun>& runs);
  // Waits out the pauses; false when asked to stop meanwhile.
  bool wait_unpaused();

  const std::string mem_path_;
  std::mutex mutex_;
  std::condition_variable changed_;
  // Changed under mutex_; read without it on the fast path.
  std::atomic<bool> stopping_{false};
  std::atomic<int> pauses_{0};
  std::atomic<uint64_t> pages_read_{0};
  std::thread thread_;
};

}  // namespace ember::agent
