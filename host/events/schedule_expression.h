// ScheduleExpression: EventBridge Scheduler's rate(), cron() and at() expressions, and when
// they fire next in a time zone.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ember::host {

// An IANA time zone ("UTC", "Europe/Berlin"), read from the system's zoneinfo (TZif) files.
class TimeZone {
 public:
  // "UTC" (also the empty name) needs no file. Unknown names are an error whose context
  // names the zone.
  static Result<TimeZone> load(const std::string& name);
  static TimeZone utc();

  const std::string& name() const;
  // Seconds east of UTC in force at the Unix time `utc_s`.
  int64_t offset_at(int64_t utc_s) const;
  // The UTC instant of a local wall-clock time. A time skipped by a DST change moves forward
  // by the gap; a time that occurs twice is its first occurrence.
  int64_t to_utc(int64_t local_s) const;

 private:
  struct Data;
  explicit TimeZone(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
};

class ScheduleExpression {
 public:
  enum class Kind { kRate, kCron, kAt };

  // Parses "rate(5 minutes)", "cron(0 12 ? * MON-FRI *)", "at(2026-12-01T10:00:00)". The
  // error's context is a message for ValidationException saying what is wrong.
  static Result<ScheduleExpression> parse(std::string_view text);

  Kind kind() const;
  const std::string& text() const;

  // The first firing strictly after `after_s` (Unix seconds), in zone `tz` (cron and at are
  // wall-clock times there; rate ignores it). A rate fires at anchor_s + k * period (the
  // schedule's StartDate, or its creation). nullopt: it never fires again (an at() in the
  // past, a cron whose years are over).
  std::optional<int64_t> next_after(int64_t after_s, const TimeZone& tz, int64_t anchor_s) const;

 private:
  struct Parsed;
  explicit ScheduleExpression(std::shared_ptr<const Parsed> parsed) : parsed_(std::move(parsed)) {}
  std::shared_ptr<const Parsed> parsed_;
};

}  // namespace ember::host
