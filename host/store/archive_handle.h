// Owners of libarchive reader and writer handles, and the zip path rules check and extract share.
#pragma once

#include <archive.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ember::host {

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteFree>;

// libarchive's message for the last error on `a`, or `fallback` when it has none (it can
// return null, e.g. for some malformed zips).
std::string archive_error(archive* a, const char* fallback);

// A reader for one in-memory zip (zip format only, no other formats or filters). Null when
// libarchive cannot set it up; the error is then in `error`.
ArchiveReader open_zip_reader(std::string_view zip, std::string& error);

// The components of a relative entry path with "." and empty parts dropped; nullopt when
// the path is empty, absolute or contains "..".
std::optional<std::vector<std::string>> entry_components(std::string_view path);

// Whether a symlink at entry path `link` pointing to `target` stays inside the root when
// resolved lexically from the link's directory.
bool symlink_stays_inside(const std::vector<std::string>& link, std::string_view target);

}  // namespace ember::host
