// FunctionLogs: appending with rotation, and reading by offset across the two files.
#include "host/logs/function_logs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <vector>

#include "common/unique_fd.h"

namespace ember::host {
namespace {

namespace fs = std::filesystem;

struct LogFile {
  uint64_t start = 0;
  uint64_t size = 0;
  std::string path;
};

std::string file_name(uint64_t start) {
  char name[32];
  std::snprintf(name, sizeof name, "%020" PRIu64 ".log", start);
  return name;
}

// The function's log files, oldest first; a missing directory has none.
Result<std::vector<LogFile>> list_files(const std::string& dir) {
  std::vector<LogFile> files;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 24 || entry.path().extension() != ".log") continue;
    LogFile file;
    file.start = std::strtoull(name.c_str(), nullptr, 10);
    file.size = entry.file_size(ec);
    if (ec) return Error{ec.value(), "stat", entry.path().string()};
    file.path = entry.path().string();
    files.push_back(std::move(file));
  }
  if (ec) return Error{ec.value(), "list logs", dir};
  std::sort(files.begin(), files.end(),
            [](const LogFile& a, const LogFile& b) { return a.start < b.start; });
  return files;
}

Status append_to(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd) return errno_error("open log", path);
  while (!text.empty()) {
    const ssize_t n = ::write(fd.get(), text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("write log", path);
    text.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Status read_range(const std::string& path, uint64_t from, size_t count, std::string& out) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("open log", path);
  const size_t old_size = out.size();
  out.resize(old_size + count);
  size_t done = 0;
  while (done < count) {
    const ssize_t n = ::pread(fd.get(), out.data() + old_size + done, count - done,
                              static_cast<off_t>(from + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("read log", path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(old_size + done);
  return {};
}

}  // namespace

std::string FunctionLogs::function_dir(const std::string& function) const {
  return dir_ + "/" + function;
}

Status FunctionLogs::append(const std::string& function, std::string_view text) {
  if (text.size() > max_file_bytes_) text.remove_prefix(text.size() - max_file_bytes_);
  std::lock_guard lock(mu_);
  auto state = states_.find(function);
  if (state == states_.end()) {
    EMBER_TRY(LogState loaded, load_state(function));
    state = states_.emplace(function, std::move(loaded)).first;
  }
  LogState& log = state->second;
  // On a failed write the file's size is unknown: the next append lists the files again.
  auto forget_on_failure = [&](Status s) {
    if (!s.ok()) states_.erase(state);
    return s;
  };
  if (log.current_size + text.size() <= max_file_bytes_) {
    EMBER_CHECK(forget_on_failure(append_to(log.current_path, text)));
    log.current_size += text.size();
    return {};
  }
  // Rotate: a new current file starts where this one ends; only one older file stays.
  const uint64_t start = log.current_start + log.current_size;
  const std::string path = function_dir(function) + "/" + file_name(start);
  EMBER_CHECK(forget_on_failure(append_to(path, text)));
  for (const std::string& older : log.older) {
    if (::unlink(older.c_str()) != 0 && errno != ENOENT) {
      states_.erase(state);
      return errno_error("remove old log", older);
    }
  }
  log.older = {std::move(log.current_path)};
  log.current_path = path;
  log.current_start = start;
  log.current_size = text.size();
  return {};
}

Result<FunctionLogs::LogState> FunctionLogs::load_state(const std::string& function) const {
  const std::string dir = function_dir(function);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error{ec.value(), "create log dir", dir};
  EMBER_TRY(auto files, list_files(dir));
  LogState state;
  if (files.empty()) {
    state.current_path = dir + "/" + file_name(0);
    return state;
  }
  state.current_start = files.back().start;
  state.current_size = files.back().size;
  state.current_path = files.back().path;
  for (size_t i = 0; i + 1 < files.size(); ++i) state.older.push_back(files[i].path);
  return state;
}

Result<LogChunk> FunctionLogs::read(const std::string& function, uint64_t offset,
                                    size_t max_bytes) const {
  std::lock_guard lock(mu_);
  EMBER_TRY(auto files, list_files(function_dir(function)));
  LogChunk chunk;
  if (files.empty()) return chunk;
  const uint64_t oldest = files.front().start;
  const uint64_t end = files.back().start + files.back().size;
  chunk.start_offset = (offset < oldest || offset > end) ? oldest : offset;
  uint64_t position = chunk.start_offset;
  for (const LogFile& file : files) {
    const uint64_t file_end = file.start + file.size;
    if (position >= file_end || chunk.data.size() >= max_bytes) continue;
    const size_t count =
        static_cast<size_t>(std::min<uint64_t>(file_end - position, max_bytes - chunk.data.size()));
    EMBER_CHECK(read_range(file.path, position - file.start, count, chunk.data));
    position += count;
  }
  chunk.next_offset = chunk.start_offset + chunk.data.size();
  return chunk;
}

Status FunctionLogs::remove(const std::string& function) {
  std::lock_guard lock(mu_);
  states_.erase(function);
  std::error_code ec;
  fs::remove_all(function_dir(function), ec);
  if (ec) return Error{ec.value(), "remove logs", function_dir(function)};
  return {};
}

}  // namespace ember::host
