// The wall clock as Unix milliseconds, and its ISO 8601 form in UTC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ember {

// Milliseconds since the Unix epoch, from the system clock.
int64_t unix_now_ms();

// "2026-12-01T19:54:02.123" followed by `after_millis`: the zone as the caller's format
// writes it ("Z", "+0000"), possibly after more digits ("000Z" for microseconds). Times
// before the epoch are the epoch.
std::string iso8601_utc(int64_t unix_ms, std::string_view after_millis = "Z");

}  // namespace ember
