// check_zip: one pass over the zip with libarchive, measuring and judging every entry.
#include "host/store/zip_check.h"

#include <archive_entry.h>

#include "host/store/archive_handle.h"

namespace ember::host {
namespace {

Error zip_error(const std::string& message) { return make_error("check zip", message); }

// Reads and counts an entry's data; fails once the running total passes the limit.
Status measure_data(archive* reader, const std::string& path, uint64_t& total, uint64_t limit) {
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  while (true) {
    const int rc = archive_read_data_block(reader, &block, &size, &offset);
    if (rc == ARCHIVE_EOF) return {};
    if (rc < ARCHIVE_WARN) {
      return zip_error("Could not unzip uploaded file: entry '" + path +
                       "': " + archive_error(reader, "damaged data"));
    }
    total += size;
    if (total > limit) {
      return zip_error("Unzipped size must be smaller than " + std::to_string(limit) + " bytes");
    }
  }
}

}  // namespace

Result<ZipSummary> check_zip(std::string_view zip, const ZipLimits& limits) {
  if (zip.size() > limits.max_zipped_bytes) {
    return zip_error("Zipped size must be smaller than " + std::to_string(limits.max_zipped_bytes) +
                     " bytes");
  }
  std::string setup_error;
  ArchiveReader reader = open_zip_reader(zip, setup_error);
  if (!reader) return zip_error("Could not unzip uploaded file: " + setup_error);

  ZipSummary summary;
  archive_entry* entry = nullptr;
  while (true) {
    const int rc = archive_read_next_header(reader.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      return zip_error(std::string("Could not unzip uploaded file. Please check your file, ") +
                       "then try to upload again (" + archive_error(reader.get(), "damaged entry") +
                       ")");
    }
    if (++summary.entries > limits.max_entries) {
      return zip_error("The zip file has more than " + std::to_string(limits.max_entries) +
                       " entries");
    }
    const char* raw_path = archive_entry_pathname(entry);
    const std::string path = raw_path != nullptr ? raw_path : "";
    if (path.size() > limits.max_path_bytes) {
      return zip_error("Entry path is longer than " + std::to_string(limits.max_path_bytes) +
                       " bytes: '" + path.substr(0, 64) + "...'");
    }
    const auto components = entry_components(path);
    if (!components) {
      return zip_error("Entry '" + path + "' has an empty, absolute or '..' path; " +
                       "paths must stay inside the package");
    }
    if (archive_entry_hardlink(entry) != nullptr) {
      return zip_error("Entry '" + path + "' is a hard link, which is not supported");
    }
    switch (archive_entry_filetype(entry)) {
      case AE_IFREG:
      case AE_IFDIR:
        break;
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(entry);
        if (target == nullptr || !symlink_stays_inside(*components, target)) {
          return zip_error("Symlink '" + path + "' points to '" + (target ? target : "") +
                           "', outside the package; symlinks must stay inside it");
        }
        break;
      }
      default:
        return zip_error("Entry '" + path + "' is not a regular file, directory or symlink");
    }
    EMBER_CHECK(
        measure_data(reader.get(), path, summary.unzipped_bytes, limits.max_unzipped_bytes));
  }
  return summary;
}

}  // namespace ember::host
