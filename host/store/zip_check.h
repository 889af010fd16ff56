// check_zip: decides whether a deployment package is a zip emberd may unpack and serve.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace ember::host {

// Lambda's limits for a directly uploaded .zip, and a bound on the entry count.
struct ZipLimits {
  uint64_t max_zipped_bytes = 50ull * 1024 * 1024;     // 52428800
  uint64_t max_unzipped_bytes = 250ull * 1024 * 1024;  // 262144000
  size_t max_entries = 20000;
  size_t max_path_bytes = 1024;
};

struct ZipSummary {
  size_t entries = 0;
  uint64_t unzipped_bytes = 0;  // file contents, as decompressed
};

// Reads every entry (decompressing the data, so sizes are measured, not trusted) and
// refuses: something that is not a zip or is damaged, more than max_zipped_bytes, more
// unpacked bytes or entries than the limits, entry paths that are absolute, contain "..",
// or are empty, entries other than files, directories and symlinks, and symlinks whose
// target is absolute or leads outside the package root. The error's context is a message
// for the user naming the problem (and the entry).
Result<ZipSummary> check_zip(std::string_view zip, const ZipLimits& limits = {});

}  // namespace ember::host
