// zip_directory(): libarchive's zip writer over a sorted walk of the directory.
#include "host/cli/zip_directory.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "common/unique_fd.h"

namespace ember::cli {
namespace {

namespace fs = std::filesystem;

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchiveWriter = std::unique_ptr<archive, ArchiveDeleter>;
using ArchiveEntry = std::unique_ptr<archive_entry, EntryDeleter>;

Error archive_error(archive* a, const std::string& op, const std::string& context) {
  const char* message = archive_error_string(a);
  return Error{archive_errno(a), op,
               context + (message ? std::string(": ") + message : std::string())};
}

// libarchive's write callback: appends to the std::string passed as client data.
la_ssize_t append_to_string(archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

// follow_links false: a path that became a symbolic link since it was listed is refused.
Result<std::string> read_whole_file(const std::string& path, bool follow_links) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | (follow_links ? 0 : O_NOFOLLOW)));
  if (!fd) return errno_error("open", path);
  std::string data;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read", path);
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  return data;
}

// Every path under root, relative and sorted, without following symbolic links.
Result<std::vector<std::string>> list_tree(const fs::path& root) {
  std::vector<std::string> paths;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    paths.push_back(it->path().lexically_relative(root).generic_string());
  }
  if (ec) return Error{ec.value(), "list directory", root.string()};
  std::sort(paths.begin(), paths.end());
  return paths;
}

Status add_entry(archive* a, const fs::path& root, const std::string& relative) {
  const std::string full = (root / relative).string();
  struct stat st;
  if (::lstat(full.c_str(), &st) != 0) return errno_error("stat", full);
  ArchiveEntry entry(archive_entry_new());
  archive_entry_copy_stat(entry.get(), &st);
  // Owner and group mean nothing inside the guest; keep the archive independent of them.
  archive_entry_set_uid(entry.get(), 0);
  archive_entry_set_gid(entry.get(), 0);
  std::string data;
  if (S_ISDIR(st.st_mode)) {
    archive_entry_copy_pathname(entry.get(), (relative + "/").c_str());
    archive_entry_set_size(entry.get(), 0);
  } else if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    const fs::path target = fs::read_symlink(full, ec);
    if (ec) return Error{ec.value(), "read symbolic link", full};
    archive_entry_copy_pathname(entry.get(), relative.c_str());
    archive_entry_copy_symlink(entry.get(), target.c_str());
    archive_entry_set_size(entry.get(), 0);
  } else if (S_ISREG(st.st_mode)) {
    EMBER_TRY(data, read_whole_file(full, false));
    archive_entry_copy_pathname(entry.get(), relative.c_str());
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(data.size()));
  } else {
    return make_error("zip", full + " is not a regular file, directory or symbolic link");
  }
  if (archive_write_header(a, entry.get()) != ARCHIVE_OK) {
    return archive_error(a, "zip", relative);
  }
  if (!data.empty() &&
      archive_write_data(a, data.data(), data.size()) != static_cast<la_ssize_t>(data.size())) {
    return archive_error(a, "zip", relative);
  }
  return {};
}

}  // namespace

Result<std::string> zip_directory(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    errno = ec ? ec.value() : ENOTDIR;
    return errno_error("zip", dir);
  }
  const fs::path root(dir);
  EMBER_TRY(auto paths, list_tree(root));

  std::string zip;
  ArchiveWriter writer(archive_write_new());
  archive* a = writer.get();
  if (archive_write_set_format_zip(a) != ARCHIVE_OK ||
      archive_write_zip_set_compression_deflate(a) != ARCHIVE_OK ||
      // No padding of the last block: the archive ends where the zip ends.
      archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
      archive_write_open(a, &zip, nullptr, append_to_string, nullptr) != ARCHIVE_OK) {
    return archive_error(a, "zip", "set up the zip writer");
  }
  for (const auto& relative : paths) EMBER_CHECK(add_entry(a, root, relative));
  if (archive_write_close(a) != ARCHIVE_OK) return archive_error(a, "zip", "finish the archive");
  return zip;
}

Result<std::string> read_zip_file(const std::string& path) {
  EMBER_TRY(std::string data, read_whole_file(path, true));
  const bool zip = data.size() >= 4 && data.compare(0, 2, "PK") == 0 &&
                   ((data[2] == 3 && data[3] == 4) || (data[2] == 5 && data[3] == 6));
  if (!zip) return make_error("read zip", path + " is not a zip archive");
  return data;
}

}  // namespace ember::cli
