// The working-set file, its recording from /proc/PID/pagemap and its installation.
#include "common/working_set.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/guest_layout.h"
#include "common/unique_fd.h"

namespace ember {
namespace {

#ifndef MADV_POPULATE_READ
constexpr int MADV_POPULATE_READ = 22;
constexpr int MADV_POPULATE_WRITE = 23;
#endif

constexpr std::string_view kHeader = "ember-working-set 1 ";
// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
constexpr uint64_t kPagePresent = 1ull << 63;
constexpr uint64_t kPageSwapped = 1ull << 62;
constexpr uint64_t kPageFileOrSharedAnon = 1ull << 61;

bool parse_u64(std::string_view text, uint64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// Appends page `page` of the file to runs, extending the last run when it continues it.
void add_page(std::vector<PageRun>& runs, uint64_t page, bool written) {
  if (!runs.empty() && runs.back().written == written &&
      runs.back().first_page + runs.back().pages == page) {
    ++runs.back().pages;
    return;
  }
  runs.push_back({page, 1, written});
}

// One mapping of the file, from a /proc/PID/maps line.
struct FileMapping {
  uint64_t start = 0, end = 0, file_offset = 0;
};

std::vector<FileMapping> mappings_of(pid_t pid, dev_t device, ino_t inode) {
  std::vector<FileMapping> out;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    FileMapping m;
    unsigned major_no = 0, minor_no = 0;
    unsigned long long node = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %llu", &m.start,
                    &m.end, perms, &m.file_offset, &major_no, &minor_no, &node) != 7) {
      continue;
    }
    if (node == inode && makedev(major_no, minor_no) == device) out.push_back(m);
  }
  return out;
}

}  // namespace

std::string encode_working_set(const std::vector<PageRun>& runs, uint64_t memory_pages) {
  std::string out(kHeader);
  out += std::to_string(memory_pages) + "\n";
  for (const PageRun& r : runs) {
    out += std::to_string(r.first_page) + " " + std::to_string(r.pages) +
           (r.written ? " w\n" : " r\n");
  }
  return out;
}

Result<std::vector<PageRun>> decode_working_set(std::string_view text, uint64_t memory_pages) {
  auto bad = [](const std::string& why) { return make_error("working set", why); };
  const size_t header_end = text.find('\n');
  uint64_t pages_in_file = 0;
  if (header_end == std::string_view::npos || !text.starts_with(kHeader) ||
      !parse_u64(text.substr(kHeader.size(), header_end - kHeader.size()), pages_in_file)) {
    return bad("not an ember working-set file (version 1)");
  }
  if (pages_in_file != memory_pages) {
    return bad("made for " + std::to_string(pages_in_file) + " pages of memory, not " +
               std::to_string(memory_pages));
  }
  std::vector<PageRun> runs;
  uint64_t next_free = 0;
  size_t pos = header_end + 1;
  for (size_t line_no = 2; pos < text.size(); ++line_no) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) return bad("line " + std::to_string(line_no) + " unended");
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    const size_t space1 = line.find(' ');
    const size_t space2 = line.rfind(' ');
    PageRun run;
    const std::string_view kind = space2 == std::string_view::npos ? "" : line.substr(space2 + 1);
    if (space1 == std::string_view::npos || space1 == space2 ||
        !parse_u64(line.substr(0, space1), run.first_page) ||
        !parse_u64(line.substr(space1 + 1, space2 - space1 - 1), run.pages) ||
        (kind != "r" && kind != "w")) {
      return bad("line " + std::to_string(line_no) + " is not \"<first_page> <pages> r|w\"");
    }
    run.written = kind == "w";
    if (run.pages == 0 || run.first_page < next_free || run.first_page >= memory_pages ||
        run.pages > memory_pages - run.first_page) {
      return bad("line " + std::to_string(line_no) +
                 ": an empty run, one out of order or overlapping, or one beyond the memory");
    }
    next_free = run.first_page + run.pages;
    runs.push_back(run);
  }
  return runs;
}

Result<std::vector<PageRun>> read_working_set(const std::string& path, uint64_t memory_pages) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::vector<PageRun>{};
    return errno_error("read the working set", path);
  }
  std::stringstream text;
  text << in.rdbuf();
  return decode_working_set(text.str(), memory_pages);
}

Result<std::vector<PageRun>> record_working_set(pid_t pid, dev_t device, ino_t inode) {
  std::vector<FileMapping> mappings = mappings_of(pid, device, inode);
  if (mappings.empty()) {
    return make_error("record the working set",
                      "process " + std::to_string(pid) + " maps no memory file");
  }
  const std::string pagemap_path = "/proc/" + std::to_string(pid) + "/pagemap";
  UniqueFd pagemap(::open(pagemap_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!pagemap) return errno_error("open", pagemap_path);
  // Runs per file page, whatever order the mappings come in.
  std::sort(mappings.begin(), mappings.end(),
            [](const FileMapping& a, const FileMapping& b) { return a.file_offset < b.file_offset; });
  std::vector<PageRun> runs;
  std::vector<uint64_t> entries(4096);
  for (const FileMapping& m : mappings) {
    for (uint64_t va = m.start; va < m.end;) {
      const uint64_t count = std::min<uint64_t>(entries.size(), (m.end - va) / kWorkingSetPageSize);
      const off_t at = static_cast<off_t>(va / kWorkingSetPageSize * sizeof(uint64_t));
      const ssize_t n = ::pread(pagemap.get(), entries.data(), count * sizeof(uint64_t), at);
      if (n < 0) return errno_error("read", pagemap_path);
      const auto got = static_cast<uint64_t>(n) / sizeof(uint64_t);
      if (got == 0) break;
      for (uint64_t i = 0; i < got; ++i) {
        const uint64_t e = entries[i];
        if ((e & (kPagePresent | kPageSwapped)) == 0) continue;
        const uint64_t page = (m.file_offset + (va - m.start)) / kWorkingSetPageSize + i;
        add_page(runs, page, (e & kPageFileOrSharedAnon) == 0);
      }
      va += got * kWorkingSetPageSize;
    }
  }
  return runs;
}

std::vector<GuestPageRun> guest_page_runs(const std::vector<PageRun>& runs) {
  constexpr uint64_t kGapPage = kMmioGapStart / kWorkingSetPageSize;
  std::vector<GuestPageRun> out;
  auto add = [&out](uint64_t file_page, uint64_t pages) {
    if (pages == 0) return;
    out.push_back({guest_address_of_file_offset(file_page * kWorkingSetPageSize) /
                       kWorkingSetPageSize,
                   pages});
  };
  for (const PageRun& r : runs) {
    const uint64_t end = r.first_page + r.pages;
    if (r.first_page < kGapPage && end > kGapPage) {
      add(r.first_page, kGapPage - r.first_page);
      add(kGapPage, end - kGapPage);
    } else {
      add(r.first_page, r.pages);
    }
  }
  return out;
}

std::vector<GuestPageRun> snapshot_guest_working_set(const std::string& snapshot_dir) {
  struct stat st = {};
  if (::stat((snapshot_dir + "/memory.bin").c_str(), &st) != 0) return {};
  auto runs = read_working_set(snapshot_dir + "/" + kWorkingSetFile,
                               static_cast<uint64_t>(st.st_size) / kWorkingSetPageSize);
  if (!runs.ok()) return {};
  return guest_page_runs(*runs);
}

Result<uint64_t> install_working_set(const std::vector<MappedFileRange>& ranges,
                                     const std::vector<PageRun>& runs) {
  uint64_t installed = 0;
  for (const PageRun& run : runs) {
    const uint64_t run_start = run.first_page * kWorkingSetPageSize;
    const uint64_t run_end = run_start + run.pages * kWorkingSetPageSize;
    for (const MappedFileRange& range : ranges) {
      const uint64_t start = std::max(run_start, range.file_offset);
      const uint64_t end = std::min(run_end, range.file_offset + range.size);
      if (start >= end) continue;
      uint8_t* host = range.host + (start - range.file_offset);
      const size_t len = end - start;
      if (::madvise(host, len, run.written ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0) {
        if (errno != EINVAL) return errno_error("madvise(MADV_POPULATE)", "the working set");
        // Before Linux 5.14: a touch per page does the same, one fault at a time.
        for (size_t off = 0; off < len; off += kWorkingSetPageSize) {
          volatile uint8_t* p = host + off;
          const uint8_t value = *p;
          if (run.written) *p = value;
        }
      }
      installed += len / kWorkingSetPageSize;
    }
  }
  return installed;
}

}  // namespace ember
