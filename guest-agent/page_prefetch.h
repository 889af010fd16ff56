// PagePrefetcher: after a restore, reads one byte of each page of the snapshot's working set
// through /dev/mem, in a background thread at SCHED_IDLE priority. Each read is the guest's
// first touch of that page, so KVM maps it then, while the vCPU would otherwise be idle,
// instead of while the handler runs. (KVM_PRE_FAULT_MEMORY does this from the host, on Linux
// 6.10+; before that, only a guest access can.)
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/working_set.h"

namespace ember::agent {

class PagePrefetcher {
 public:
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
  // Asks the running prefetch to stop after its current page, and waits for it.
  void stop();

 private:
  void run(const std::vector<GuestPageRun>& runs);

  const std::string mem_path_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> pages_read_{0};
  std::thread thread_;
};

}  // namespace ember::agent
