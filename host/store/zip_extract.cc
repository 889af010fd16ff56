// extract_zip: libarchive's disk writer fed entry by entry with sanitized paths and modes.
#include "host/store/zip_extract.h"

#include <archive_entry.h>

#include <filesystem>
#include <system_error>

#include "host/store/archive_handle.h"

namespace ember::host {
namespace {

Error extract_error(const std::string& path, archive* a) {
  return make_error("extract zip", path + ": " + archive_error(a, "unknown error"));
}

Status copy_data(archive* reader, archive* writer, const std::string& path) {
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  while (true) {
    const int rc = archive_read_data_block(reader, &block, &size, &offset);
    if (rc == ARCHIVE_EOF) return {};
    if (rc < ARCHIVE_WARN) return extract_error(path, reader);
    if (archive_write_data_block(writer, block, size, offset) < ARCHIVE_WARN) {
      return extract_error(path, writer);
    }
  }
}

std::string join(const std::string& dir, const std::vector<std::string>& components) {
  std::string path = dir;
  for (const std::string& part : components) path += "/" + part;
  return path;
}

// Parent directories libarchive made on its own got the process umask; make them 0755.
Status open_up_directories(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      fs::permissions(it->path(), fs::perms(0755), fs::perm_options::replace, ec);
      if (ec) break;
    }
  }
  if (ec) return Error{ec.value(), "set directory modes", dir};
  return {};
}

}  // namespace

Status extract_zip(std::string_view zip, const std::string& dir) {
  std::string setup_error;
  ArchiveReader reader = open_zip_reader(zip, setup_error);
  if (!reader) return make_error("extract zip", setup_error);
  ArchiveWriter writer(archive_write_disk_new());
  if (!writer) return make_error("extract zip", "libarchive could not allocate a writer");
  archive_write_disk_set_options(
      writer.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                        ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK);

  archive_entry* entry = nullptr;
  while (true) {
    const int rc = archive_read_next_header(reader.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return extract_error(dir, reader.get());
    const char* raw_path = archive_entry_pathname(entry);
    const std::string path = raw_path != nullptr ? raw_path : "";
    const auto components = entry_components(path);
    if (!components) return make_error("extract zip", "unsafe entry path '" + path + "'");
    archive_entry_set_pathname(entry, join(dir, *components).c_str());
    switch (archive_entry_filetype(entry)) {
      case AE_IFREG:
        archive_entry_set_perm(entry, (archive_entry_perm(entry) & 0111) != 0 ? 0755 : 0644);
        break;
      case AE_IFDIR:
        archive_entry_set_perm(entry, 0755);
        break;
      case AE_IFLNK:
        break;
      default:
        return make_error("extract zip", "unsupported entry type for '" + path + "'");
    }
    if (archive_write_header(writer.get(), entry) < ARCHIVE_WARN) {
      return extract_error(path, writer.get());
    }
    EMBER_CHECK(copy_data(reader.get(), writer.get(), path));
    if (archive_write_finish_entry(writer.get()) < ARCHIVE_WARN) {
      return extract_error(path, writer.get());
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) return extract_error(dir, writer.get());
  return open_up_directories(dir);
}

}  // namespace ember::host
