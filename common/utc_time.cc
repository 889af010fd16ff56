// unix_now_ms and iso8601_utc.
#include "common/utc_time.h"

#include <time.h>

#include <chrono>
#include <cstdio>

namespace ember {

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso8601_utc(int64_t unix_ms, std::string_view after_millis) {
  if (unix_ms < 0) unix_ms = 0;
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03d", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return std::string(text) + std::string(after_millis);
}

}  // namespace ember
