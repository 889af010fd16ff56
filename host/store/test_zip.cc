// make_zip: libarchive's zip writer into a std::string.
#include "host/store/test_zip.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace ember::host {
namespace {

la_ssize_t append_to_string(archive*, void* out, const void* data, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

void check(archive* a, int rc) {
  if (rc < ARCHIVE_WARN) throw std::runtime_error(archive_error_string(a));
}

// Sets the Unix file type in the central directory's external attributes (the high 16
// bits, at offset 38 of each "PK\1\2" header) to a named pipe for kFifo entries.
void retype_fifos(const std::vector<TestZipEntry>& entries, std::string& zip) {
  size_t at = 0;
  for (const TestZipEntry& e : entries) {
    at = zip.find(std::string("PK\x01\x02", 4), at);
    if (at == std::string::npos) throw std::runtime_error("central directory entry missing");
    if (e.kind == TestZipEntry::Kind::kFifo) {
      const uint32_t attributes = static_cast<uint32_t>(S_IFIFO | e.mode) << 16;
      for (int i = 0; i < 4; ++i) zip[at + 38 + i] = static_cast<char>(attributes >> (8 * i));
    }
    at += 4;
  }
}

}  // namespace

std::string make_zip(const std::vector<TestZipEntry>& entries) {
  std::string out;
  std::unique_ptr<archive, decltype(&archive_write_free)> writer(archive_write_new(),
                                                                 archive_write_free);
  archive* a = writer.get();
  check(a, archive_write_set_format_zip(a));
  check(a, archive_write_set_bytes_in_last_block(a, 1));
  check(a, archive_write_open2(a, &out, nullptr, append_to_string, nullptr, nullptr));
  for (const TestZipEntry& e : entries) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                        archive_entry_free);
    archive_entry_set_pathname(entry.get(), e.path.c_str());
    archive_entry_set_mtime(entry.get(), 1700000000, 0);
    switch (e.kind) {
      case TestZipEntry::Kind::kFile:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.data.size() + e.zeros));
        break;
      case TestZipEntry::Kind::kDirectory:
        archive_entry_set_filetype(entry.get(), AE_IFDIR);
        break;
      case TestZipEntry::Kind::kSymlink:
        archive_entry_set_filetype(entry.get(), AE_IFLNK);
        archive_entry_set_symlink(entry.get(), e.target.c_str());
        break;
      case TestZipEntry::Kind::kFifo:
        // The zip writer refuses pipes: written as an empty file, retyped below.
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_size(entry.get(), 0);
        break;
    }
    archive_entry_set_perm(entry.get(), e.mode);
    check(a, archive_write_header(a, entry.get()));
    if (e.kind == TestZipEntry::Kind::kFile) {
      if (!e.data.empty() && archive_write_data(a, e.data.data(), e.data.size()) < 0) {
        check(a, ARCHIVE_FATAL);
      }
      const std::string block(1 << 20, '\0');
      for (uint64_t left = e.zeros; left > 0;) {
        const size_t n = left < block.size() ? static_cast<size_t>(left) : block.size();
        if (archive_write_data(a, block.data(), n) < 0) check(a, ARCHIVE_FATAL);
        left -= n;
      }
    }
  }
  check(a, archive_write_close(a));
  retype_fifos(entries, out);
  return out;
}

std::string hello_zip(const std::string& greeting) {
  return make_zip(
      {{.path = "lambda_function.py",
        .data = "def lambda_handler(event, context):\n    return '" + greeting + "'\n"}});
}

}  // namespace ember::host
