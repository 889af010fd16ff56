// Logger: level-filtered diagnostic lines on stderr, prefixed "ember-vmm: ".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ember::vmm {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// Parses "error", "warn", "info" or "debug".
std::optional<LogLevel> parse_log_level(std::string_view name);

// Thread-safe; lines at a level above the current one are dropped.
void set_log_level(LogLevel level);
LogLevel log_level();
bool log_enabled(LogLevel level);

// Writes one whole line with a single write(2), so lines from vCPU threads never interleave.
// Info lines read "ember-vmm: <message>"; other levels add "error: ", "warning: ", "debug: ".
void log_line(LogLevel level, std::string_view message);

inline void log_error(std::string_view message) { log_line(LogLevel::kError, message); }
inline void log_warn(std::string_view message) { log_line(LogLevel::kWarn, message); }
inline void log_info(std::string_view message) { log_line(LogLevel::kInfo, message); }
inline void log_debug(std::string_view message) { log_line(LogLevel::kDebug, message); }

}  // namespace ember::vmm
