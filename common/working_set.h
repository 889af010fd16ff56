// The working set of a snapshot: the guest memory pages that a clone's first invocation
// touched, recorded by emberd from the clone's page tables and installed by the next
// ember-vmm --restore before its vCPUs run, so that the guest does not fault them in one by
// one while it works.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ember {

inline constexpr uint64_t kWorkingSetPageSize = 4096;
// The file beside a snapshot's memory.bin.
inline constexpr char kWorkingSetFile[] = "working_set";

// A run of pages of the snapshot's memory file, in kWorkingSetPageSize units.
struct PageRun {
  uint64_t first_page = 0;
  uint64_t pages = 0;
  bool written = false;  // the clone wrote them (its own copies), else only read them
  bool operator==(const PageRun&) const = default;
};

// "ember-working-set 1 <memory_pages>\n" then one "<first_page> <pages> r|w\n" per run,
// ascending and not overlapping.
std::string encode_working_set(const std::vector<PageRun>& runs, uint64_t memory_pages);
// Refuses what encode_working_set would not write: another header or size, a run beyond
// memory_pages, runs out of order or overlapping, a malformed line.
Result<std::vector<PageRun>> decode_working_set(std::string_view text, uint64_t memory_pages);

// Reads and decodes the working-set file at path for a memory file of memory_pages pages;
// no runs when there is no such file.
Result<std::vector<PageRun>> read_working_set(const std::string& path, uint64_t memory_pages);

// The pages of the file (device, inode) that process pid has in its page tables, from
// /proc/PID/maps and /proc/PID/pagemap (needs to be root or pid's owner): every mapping of
// that file, each present page as read (still the file's page) or written (a private copy).
// Pages of a MAP_PRIVATE mapping appear only once touched.
Result<std::vector<PageRun>> record_working_set(pid_t pid, dev_t device, ino_t inode);

// A run of guest-physical pages (kWorkingSetPageSize units), as the agent reads them.
struct GuestPageRun {
  uint64_t first_page = 0;
  uint64_t pages = 0;
  bool operator==(const GuestPageRun&) const = default;
};
// The runs of the guest's physical memory that hold runs' pages of the memory file (a run
// across the MMIO gap is split in two), in the same order.
std::vector<GuestPageRun> guest_page_runs(const std::vector<PageRun>& runs);
// The working set beside a snapshot's memory.bin (dir/kWorkingSetFile) as guest pages; none
// when there is no such file or it does not fit memory.bin. Never fails: a working set only
// speeds restores up.
std::vector<GuestPageRun> snapshot_guest_working_set(const std::string& snapshot_dir);

// Where a part of the memory file is mapped in this process.
struct MappedFileRange {
  uint8_t* host = nullptr;
  uint64_t file_offset = 0;  // a multiple of kWorkingSetPageSize
  uint64_t size = 0;
};

// Maps each run's pages into this process's page tables ahead, in bulk: read runs with
// MADV_POPULATE_READ (the file's pages, still shared with other clones), written runs with
// MADV_POPULATE_WRITE (the private copies the guest would make anyway); on kernels without
// them (before 5.14), by touching each page. Pages outside every range are skipped. Returns
// how many pages were installed.
Result<uint64_t> install_working_set(const std::vector<MappedFileRange>& ranges,
                                     const std::vector<PageRun>& runs);

}  // namespace ember
