// FunctionLogs: per-function log files under <dir>/<name>/, bounded and rotated.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace ember::host {

// Bytes of a function's log from some offset on.
struct LogChunk {
  std::string data;
  uint64_t start_offset = 0;  // where data begins (later than asked when rotated away)
  uint64_t next_offset = 0;   // ask for this offset next to follow the log
};

// Each function's log is one stream of bytes with offsets counted from its first byte.
// It lives in at most two files named by the offset they start at (20 digits, e.g.
// 00000000000001048576.log): the current one, appended to until it would pass
// max_file_bytes, and the one before it; older bytes are dropped. Thread-safe. emberd owns
// the files: after a function's first append, its current file's name and size are kept
// here, so that an invocation's append is one open, write and close.
class FunctionLogs {
 public:
  explicit FunctionLogs(std::string dir, uint64_t max_file_bytes = 1024 * 1024)
      : dir_(std::move(dir)), max_file_bytes_(max_file_bytes) {}

  // Appends text (an invocation's lines) to a function's log; text longer than a file keeps
  // only its end.
  Status append(const std::string& function, std::string_view text);

  // The bytes from offset to the end, at most max_bytes. An offset older than the log keeps
  // starts at its oldest byte; an offset past the end (the log was deleted and started
  // again) also starts at the oldest byte.
  Result<LogChunk> read(const std::string& function, uint64_t offset,
                        size_t max_bytes = 4 * 1024 * 1024) const;

  // Deletes a function's log (DeleteFunction).
  Status remove(const std::string& function);

 private:
  // A function's files as append() left them.
  struct LogState {
    std::string current_path;
    uint64_t current_start = 0;
    uint64_t current_size = 0;
    std::vector<std::string> older;  // removed at the next rotation
  };

  std::string function_dir(const std::string& function) const;
  // From the directory (made if missing): the state of a function not appended to yet.
  Result<LogState> load_state(const std::string& function) const;

  const std::string dir_;
  const uint64_t max_file_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, LogState> states_;  // guarded by mu_
};

}  // namespace ember::host
