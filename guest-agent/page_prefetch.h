// PagePrefetcher: after a restore, reads one byte of each page of the snapshot's working set
// through /dev/mem, in a background thread at SCHED_IDLE priority. Each read is the guest's
// first touch of that page, so KVM maps it then, while the VM waits in the pool, instead of
// while the handler runs. (KVM_PRE_FAULT_MEMORY does this from the host, on Linux 6.10+;
// before that, only a guest access can.)
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
  // The prefetch starts this long after the Refresh, and the first invocation ends it: a
  // clone restored on demand gets its Invoke at once, and its handler faults in what it
  // needs itself, without a second reader competing for the CPU; the pages it did not need
  // are not worth reading after it. A VM that waits in the pool has the time.
  static constexpr std::chrono::milliseconds kStartDelay{100};

  // mem_path: the guest's physical memory (a plain file in tests).
  explicit PagePrefetcher(std::string mem_path = "/dev/mem") : mem_path_(std::move(mem_path)) {}
  PagePrefetcher(const PagePrefetcher&) = delete;
  PagePrefetcher& operator=(const PagePrefetcher&) = delete;
  ~PagePrefetcher() { stop(); }

  // Stops a prefetch still running, then reads runs' pages in order in the background
  // (nothing for no runs). Pages beyond the end of the memory end it.
  void start(std::vector<GuestPageRun> runs);
  // Waits for the running prefetch to finish; returns the pages the last one read.
  uint64_t wait();
  // Makes the running prefetch stop before its next page, and waits for it (at once when
  // none runs). Any thread may call it, as start() and wait().
  void stop();
  // The pages read so far.
  uint64_t pages_read() const { return pages_read_; }

 private:
  void run(const std::vector<GuestPageRun>& runs);

  const std::string mem_path_;
  std::mutex control_;  // start(), wait() and stop(): one at a time
  std::mutex mutex_;    // with stop_requested_, for the start delay's wait
  std::condition_variable stop_requested_cv_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<uint64_t> pages_read_{0};
  std::thread thread_;
};

}  // namespace ember::agent
