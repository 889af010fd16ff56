// The zip reader setup and the lexical path rules for entries and symlink targets.
#include "host/store/archive_handle.h"

namespace ember::host {
namespace {

// Splits on '/', dropping empty parts and ".".
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = end + 1;
  }
  return parts;
}

}  // namespace

std::string archive_error(archive* a, const char* fallback) {
  const char* why = archive_error_string(a);
  return why != nullptr ? why : fallback;
}

ArchiveReader open_zip_reader(std::string_view zip, std::string& error) {
  ArchiveReader reader(archive_read_new());
  if (!reader) {
    error = "libarchive could not allocate a reader";
    return nullptr;
  }
  if (archive_read_support_format_zip(reader.get()) != ARCHIVE_OK ||
      archive_read_open_memory(reader.get(), zip.data(), zip.size()) != ARCHIVE_OK) {
    error = archive_error(reader.get(), "not a zip file");
    return nullptr;
  }
  return reader;
}

std::optional<std::vector<std::string>> entry_components(std::string_view path) {
  if (path.empty() || path.front() == '/') return std::nullopt;
  std::vector<std::string> parts = split_path(path);
  for (const std::string& part : parts) {
    if (part == "..") return std::nullopt;
  }
  if (parts.empty()) return std::nullopt;  // "." or "./"
  return parts;
}

bool symlink_stays_inside(const std::vector<std::string>& link, std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  std::vector<std::string> resolved(link.begin(), link.end() - (link.empty() ? 0 : 1));
  for (const std::string& part : split_path(target)) {
    if (part != "..") {
      resolved.push_back(part);
    } else if (resolved.empty()) {
      return false;
    } else {
      resolved.pop_back();
    }
  }
  return true;
}

}  // namespace ember::host
