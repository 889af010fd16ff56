// Logger: level filter and single-write line output.
#include "vmm/logger.h"

#include <unistd.h>

#include <atomic>

namespace ember::vmm {
namespace {

// A plain atomic int: trivially constructed, so it is safe as a global.
std::atomic<int> g_level{static_cast<int>(LogLevel::kWarn)};

std::string_view level_tag(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error: ";
    case LogLevel::kWarn: return "warning: ";
    case LogLevel::kInfo: return "";
    case LogLevel::kDebug: return "debug: ";
  }
  return "";
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "error") return LogLevel::kError;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "info") return LogLevel::kInfo;
  if (name == "debug") return LogLevel::kDebug;
  return std::nullopt;
}

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(); }

void log_line(LogLevel level, std::string_view message) {
  if (!log_enabled(level)) return;
  std::string line = "ember-vmm: ";
  line += level_tag(level);
  line += message;
  line += '\n';
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace ember::vmm
