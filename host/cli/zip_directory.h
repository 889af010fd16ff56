// Packing a function's code: a directory zipped in memory, or a ready .zip read from disk.
#pragma once

#include <string>

#include "common/result.h"

namespace ember::cli {

// Zips the tree under dir in memory (deflate), the way Lambda expects a deployment
// package: paths relative to dir ("app.py", "lib/x.py", directories with a trailing '/'),
// entries sorted by path so the same tree gives the same order, Unix permission bits kept
// (an executable `bootstrap` stays executable), symbolic links stored as links (never
// followed, their target kept verbatim). Sockets, FIFOs and devices are refused.
Result<std::string> zip_directory(const std::string& dir);

// Reads a whole file; fails unless it starts like a zip archive ("PK\3\4", or "PK\5\6" for
// an empty one).
Result<std::string> read_zip_file(const std::string& path);

}  // namespace ember::cli
