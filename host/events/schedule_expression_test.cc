// Tests for schedule expressions and time zones, at fixed instants (no wall clock).
#include "host/events/schedule_expression.h"

#include <gtest/gtest.h>

#include "host/events/civil_time.h"

namespace ember::host {
namespace {

// Unix seconds of a UTC (or, with to_utc, wall-clock) date and time.
int64_t at(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return civil::days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

ScheduleExpression parse_ok(std::string_view text) {
  auto parsed = ScheduleExpression::parse(text);
  EXPECT_TRUE(parsed) << text << ": " << parsed.error().message();
  return parsed ? *parsed : *ScheduleExpression::parse("rate(1 minute)");
}

std::optional<int64_t> next(std::string_view text, int64_t after,
                            const TimeZone& tz = TimeZone::utc(), int64_t anchor = 0) {
  return parse_ok(text).next_after(after, tz, anchor);
}

TimeZone zone(const std::string& name) {
  auto tz = TimeZone::load(name);
  EXPECT_TRUE(tz) << name << ": " << tz.error().message();
  return tz ? *tz : TimeZone::utc();
}

// The parse error's message, or "" when the text parsed.
std::string parse_error(std::string_view text) {
  auto parsed = ScheduleExpression::parse(text);
  return parsed ? "" : parsed.error().context;
}

TEST(Rate, FiresAtTheAnchorPlusWholePeriods) {
  const int64_t anchor = at(2026, 3, 1, 12, 0, 7);
  EXPECT_EQ(next("rate(5 minutes)", anchor - 1000, TimeZone::utc(), anchor), anchor);
  EXPECT_EQ(next("rate(5 minutes)", anchor, TimeZone::utc(), anchor), anchor + 300);
  EXPECT_EQ(next("rate(5 minutes)", anchor + 299, TimeZone::utc(), anchor), anchor + 300);
  EXPECT_EQ(next("rate(5 minutes)", anchor + 300, TimeZone::utc(), anchor), anchor + 600);
  EXPECT_EQ(next("rate(1 hour)", anchor + 7199, TimeZone::utc(), anchor), anchor + 7200);
  EXPECT_EQ(next("rate(2 days)", anchor + 1, TimeZone::utc(), anchor), anchor + 2 * 86400);
  // A rate is elapsed time: a DST change does not move it.
  EXPECT_EQ(next("rate(1 day)", at(2026, 3, 7, 12), zone("America/New_York"), at(2026, 3, 7, 12)),
            at(2026, 3, 8, 12));
  EXPECT_EQ(parse_ok("rate(1 day)").kind(), ScheduleExpression::Kind::kRate);
  EXPECT_EQ(parse_ok("rate(1 day)").text(), "rate(1 day)");
}

TEST(Rate, RefusesBadValuesAndUnits) {
  EXPECT_NE(parse_error("rate(1 minutes)").find("singular unit, minute"), std::string::npos);
  EXPECT_NE(parse_error("rate(5 minute)").find("plural unit, minutes"), std::string::npos);
  EXPECT_NE(parse_error("rate(0 hours)").find("positive whole number"), std::string::npos);
  EXPECT_NE(parse_error("rate(-1 hours)").find("positive whole number"), std::string::npos);
  EXPECT_NE(parse_error("rate(5 weeks)").find("minutes, hours or days"), std::string::npos);
  EXPECT_NE(parse_error("rate(5)").find("rate(value unit)"), std::string::npos);
  EXPECT_EQ(parse_error("rate(5 minutes)").find("Invalid"), std::string::npos);
  EXPECT_EQ(parse_error("rate(0 hours)").rfind("Invalid Schedule Expression rate(0 hours): ", 0),
            0u);
}

TEST(Cron, EveryFiveMinutes) {
  EXPECT_EQ(next("cron(0/5 * * * ? *)", at(2026, 1, 1, 10, 3)), at(2026, 1, 1, 10, 5));
  EXPECT_EQ(next("cron(*/5 * * * ? *)", at(2026, 1, 1, 10, 5)), at(2026, 1, 1, 10, 10));
  EXPECT_EQ(next("cron(0/5 * * * ? *)", at(2026, 1, 1, 23, 57, 30)), at(2026, 1, 2, 0, 0));
  EXPECT_EQ(next("cron(1/10 * * * ? *)", at(2026, 1, 1, 10, 52)), at(2026, 1, 1, 11, 1));
  EXPECT_EQ(next("cron(5-20/5 8 * * ? *)", at(2026, 1, 1, 8, 20)), at(2026, 1, 2, 8, 5));
  // The end of a year rolls into the next.
  EXPECT_EQ(next("cron(0/5 * * * ? *)", at(2026, 12, 31, 23, 55)), at(2027, 1, 1, 0, 0));
}

TEST(Cron, WeekdayRangesAndNames) {
  // 2026-01-02 is a Friday.
  EXPECT_EQ(next("cron(0 9 ? * MON-FRI *)", at(2026, 1, 2, 10)), at(2026, 1, 5, 9));
  EXPECT_EQ(next("cron(0 9 ? * 2-6 *)", at(2026, 1, 2, 8)), at(2026, 1, 2, 9));
  EXPECT_EQ(next("cron(0 9 ? * sat,sun *)", at(2026, 1, 2, 10)), at(2026, 1, 3, 9));
  EXPECT_EQ(next("cron(0 9 ? * FRI-MON *)", at(2026, 1, 5, 10)), at(2026, 1, 9, 9));  // wraps
  EXPECT_EQ(next("cron(30 12 ? jul,Dec mon *)", at(2026, 1, 1)), at(2026, 7, 6, 12, 30));
  EXPECT_EQ(next("cron(0 10,15 * * ? *)", at(2026, 1, 1, 10)), at(2026, 1, 1, 15));
  EXPECT_EQ(next("cron(0 22-2 * * ? *)", at(2026, 1, 1, 3)), at(2026, 1, 1, 22));
}

TEST(Cron, LastDayAndNearestWeekday) {
  EXPECT_EQ(next("cron(0 0 L * ? *)", at(2026, 1, 31)), at(2026, 2, 28));
  EXPECT_EQ(next("cron(0 0 L * ? *)", at(2028, 2, 1)), at(2028, 2, 29));
  // The last weekday: 2026-01-31 is a Saturday, 2026-05-31 a Sunday.
  EXPECT_EQ(next("cron(0 0 LW * ? *)", at(2026, 1, 1)), at(2026, 1, 30));
  EXPECT_EQ(next("cron(0 0 LW * ? *)", at(2026, 5, 1)), at(2026, 5, 29));
  EXPECT_EQ(next("cron(0 0 LW * ? *)", at(2026, 6, 1)), at(2026, 6, 30));  // a Tuesday
  // 2026-08-15 is a Saturday (the Friday before), 2026-02-15 a Sunday (the Monday after).
  EXPECT_EQ(next("cron(0 0 15W * ? *)", at(2026, 8, 1)), at(2026, 8, 14));
  EXPECT_EQ(next("cron(0 0 15W * ? *)", at(2026, 2, 1)), at(2026, 2, 16));
  EXPECT_EQ(next("cron(0 0 15W * ? *)", at(2026, 4, 1)), at(2026, 4, 15));
  // W stays in the month: 2026-08-01 is a Saturday (Monday the 3rd, not July 31) and
  // 2027-01-31 a Sunday (Friday the 29th, not February 1st).
  EXPECT_EQ(next("cron(0 0 1W * ? *)", at(2026, 7, 2)), at(2026, 8, 3));
  EXPECT_EQ(next("cron(0 0 31W * ? *)", at(2027, 1, 1)), at(2027, 1, 29));
}

TEST(Cron, NthAndLastDayOfWeek) {
  // Second Tuesday: 2026-01-13, then 2026-02-10.
  EXPECT_EQ(next("cron(0 12 ? * 3#2 *)", at(2026, 1, 1)), at(2026, 1, 13, 12));
  EXPECT_EQ(next("cron(0 12 ? * TUE#2 *)", at(2026, 1, 13, 12)), at(2026, 2, 10, 12));
  // A fifth Monday: not in January or February 2026 (4 and 4), then March 30th.
  EXPECT_EQ(next("cron(0 0 ? * 2#5 *)", at(2026, 1, 1)), at(2026, 3, 30));
  // The last Friday: 2026-01-30, 2026-02-27.
  EXPECT_EQ(next("cron(0 0 ? * 6L *)", at(2026, 1, 1)), at(2026, 1, 30));
  EXPECT_EQ(next("cron(0 0 ? * 6L *)", at(2026, 1, 30)), at(2026, 2, 27));
  // L alone is the week's last day, every Saturday.
  EXPECT_EQ(next("cron(0 0 ? * L *)", at(2026, 1, 1)), at(2026, 1, 3));
  EXPECT_EQ(next("cron(0 0 ? * L *)", at(2026, 1, 3)), at(2026, 1, 10));
}

TEST(Cron, YearBoundsEndTheSchedule) {
  EXPECT_EQ(next("cron(0 0 1 1 ? 2027)", at(2026, 6, 1)), at(2027, 1, 1));
  EXPECT_EQ(next("cron(0 0 1 1 ? 2027)", at(2027, 1, 1)), std::nullopt);
  EXPECT_EQ(next("cron(0 8 * * ? 2026-2027)", at(2027, 12, 31, 8)), std::nullopt);
  EXPECT_EQ(next("cron(0 8 * * ? 2030/5)", at(2031, 1, 1)), at(2035, 1, 1, 8));
  EXPECT_EQ(next("cron(59 23 31 12 ? *)", at(2199, 12, 31, 23, 59)), std::nullopt);
  EXPECT_EQ(next("cron(0 0 * * ? *)", at(2300, 1, 1)), std::nullopt);
  // Before 1970 the search starts at 1970.
  EXPECT_EQ(next("cron(0 0 * * ? *)", -86400 * 10), 0);
}

TEST(Cron, FebruaryTwentyNinthAndImpossibleDays) {
  EXPECT_EQ(next("cron(0 0 29 2 ? *)", at(2025, 3, 1)), at(2028, 2, 29));
  EXPECT_EQ(next("cron(0 0 29 2 ? *)", at(2096, 3, 1)), at(2104, 2, 29));  // 2100 is no leap year
  // Never matches: searched year by year to 2199, then nothing.
  EXPECT_EQ(next("cron(0 0 30 2 ? *)", at(2026, 1, 1)), std::nullopt);
  EXPECT_EQ(next("cron(0 0 31 4,6,9,11 ? *)", at(2026, 1, 1)), std::nullopt);
}

TEST(Cron, RefusesMalformedExpressions) {
  EXPECT_NE(parse_error("cron(0 12 * * *)").find("six fields"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 12 * * ? * *)").find("has 7"), std::string::npos);
  EXPECT_EQ(parse_error("cron(0 12 * * * *)"),
            "Invalid Schedule Expression cron(0 12 * * * *): day-of-month and day-of-week "
            "cannot both be specified; use ? in one of them");
  EXPECT_NE(parse_error("cron(0 12 ? * ? *)").find("cannot both be ?"), std::string::npos);
  EXPECT_NE(parse_error("cron(60 12 * * ? *)").find("minutes value 60 is out of range 0-59"),
            std::string::npos);
  EXPECT_NE(parse_error("cron(0 24 * * ? *)").find("hours value 24"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 32 * ? *)").find("day-of-month value 32"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 0 * ? *)").find("day-of-month value 0"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 * 13 ? *)").find("month value 13"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 ? * 8 *)").find("day-of-week value 8"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 * * ? 1969)").find("year value 1969"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 * * ? 2200)").find("year value 2200"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 * FOO ? *)").find("not a number or name"), std::string::npos);
  EXPECT_NE(parse_error("cron(0/0 0 * * ? *)").find("increment"), std::string::npos);
  EXPECT_NE(parse_error("cron(? 0 * * ? *)").find("not in minutes"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 ? * 3#6 *)").find("1-5"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 ? * 3#1,6#3 *)").find("only one"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 * * ? 2030-2020)").find("ends before"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 1,,2 * ? *)").find("empty item"), std::string::npos);
  EXPECT_NE(parse_error("every(5 minutes)").find("expected rate"), std::string::npos);
  EXPECT_NE(parse_error("cron(0 0 * * ? *").find("expected rate"), std::string::npos);
  EXPECT_NE(parse_error("").find("expected rate"), std::string::npos);
}

TEST(At, FiresOnceInItsTimeZone) {
  EXPECT_EQ(next("at(2026-12-01T10:00:00)", at(2026, 1, 1)), at(2026, 12, 1, 10));
  EXPECT_EQ(next("at(2026-12-01T10:00:00)", at(2026, 12, 1, 10)), std::nullopt);
  EXPECT_EQ(next("at(2026-12-01T10:00:00)", at(2027, 1, 1)), std::nullopt);
  EXPECT_EQ(next("at(2026-12-01T10:00:00)", at(2026, 1, 1), zone("Europe/Berlin")),
            at(2026, 12, 1, 9));
  EXPECT_EQ(next("at(2026-07-01T10:00:00)", at(2026, 1, 1), zone("America/New_York")),
            at(2026, 7, 1, 14));
  EXPECT_EQ(parse_ok("at(2028-02-29T00:00:00)").kind(), ScheduleExpression::Kind::kAt);
  EXPECT_NE(parse_error("at(2026-02-29T00:00:00)").find("does not exist"), std::string::npos);
  EXPECT_NE(parse_error("at(2026-12-01 10:00:00)").find("yyyy-mm-dd"), std::string::npos);
  EXPECT_NE(parse_error("at(2026-12-01T24:00:00)").find("00:00:00-23:59:59"), std::string::npos);
  EXPECT_NE(parse_error("at(2026-13-01T10:00:00)").find("month"), std::string::npos);
}

TEST(TimeZone, OffsetsBeforeAndAfterDaylightSaving) {
  const TimeZone ny = zone("America/New_York");
  EXPECT_EQ(ny.name(), "America/New_York");
  EXPECT_EQ(ny.offset_at(at(2026, 1, 15)), -5 * 3600);
  EXPECT_EQ(ny.offset_at(at(2026, 7, 15)), -4 * 3600);
  // 2026-03-08 02:00 EST (07:00 UTC) and 2026-11-01 02:00 EDT (06:00 UTC).
  EXPECT_EQ(ny.offset_at(at(2026, 3, 8, 7) - 1), -5 * 3600);
  EXPECT_EQ(ny.offset_at(at(2026, 3, 8, 7)), -4 * 3600);
  EXPECT_EQ(ny.offset_at(at(2026, 11, 1, 6) - 1), -4 * 3600);
  EXPECT_EQ(ny.offset_at(at(2026, 11, 1, 6)), -5 * 3600);
  // Past the file's transitions the footer rule (M3.2.0,M11.1.0) decides.
  EXPECT_EQ(ny.offset_at(at(2150, 3, 8, 7) - 1), -5 * 3600);  // 2150-03-08 is a Sunday
  EXPECT_EQ(ny.offset_at(at(2150, 3, 8, 7)), -4 * 3600);
  EXPECT_EQ(ny.offset_at(at(2150, 12, 1)), -5 * 3600);
  // Before 1883 New York kept local mean time, -4:56:02.
  EXPECT_EQ(ny.offset_at(at(1800, 1, 1)), -(4 * 3600 + 56 * 60 + 2));

  const TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(berlin.offset_at(at(2026, 1, 15)), 3600);
  EXPECT_EQ(berlin.offset_at(at(2026, 7, 15)), 7200);
  // The EU changes at 01:00 UTC on the last Sundays of March and October.
  EXPECT_EQ(berlin.offset_at(at(2026, 3, 29, 1) - 1), 3600);
  EXPECT_EQ(berlin.offset_at(at(2026, 3, 29, 1)), 7200);
  EXPECT_EQ(berlin.offset_at(at(2026, 10, 25, 1) - 1), 7200);
  EXPECT_EQ(berlin.offset_at(at(2026, 10, 25, 1)), 3600);
  EXPECT_EQ(berlin.offset_at(at(2100, 7, 1)), 7200);

  // The southern hemisphere's summer spans the new year.
  const TimeZone sydney = zone("Australia/Sydney");
  EXPECT_EQ(sydney.offset_at(at(2120, 1, 1)), 11 * 3600);
  EXPECT_EQ(sydney.offset_at(at(2120, 7, 1)), 10 * 3600);
  EXPECT_EQ(TimeZone::utc().offset_at(at(2026, 7, 1)), 0);
  EXPECT_EQ(zone("Asia/Kolkata").offset_at(at(2126, 7, 1)), 5 * 3600 + 1800);
}

TEST(TimeZone, WallClockToUtcAcrossChanges) {
  const TimeZone ny = zone("America/New_York");
  EXPECT_EQ(ny.to_utc(at(2026, 1, 15, 12)), at(2026, 1, 15, 17));
  EXPECT_EQ(ny.to_utc(at(2026, 7, 15, 12)), at(2026, 7, 15, 16));
  // 02:30 does not exist on 2026-03-08: it moves forward by the hour to 03:30 EDT.
  EXPECT_EQ(ny.to_utc(at(2026, 3, 8, 2, 30)), at(2026, 3, 8, 7, 30));
  EXPECT_EQ(ny.to_utc(at(2026, 3, 8, 3, 30)), at(2026, 3, 8, 7, 30));
  // 01:30 happens twice on 2026-11-01: the first, EDT, counts.
  EXPECT_EQ(ny.to_utc(at(2026, 11, 1, 1, 30)), at(2026, 11, 1, 5, 30));
  EXPECT_EQ(ny.to_utc(at(2026, 11, 1, 2, 30)), at(2026, 11, 1, 7, 30));
}

TEST(TimeZone, RefusesUnknownAndUnsafeNames) {
  for (const char* name : {"No/Such_Zone", "../../etc/passwd", "/etc/passwd", "America",
                           "Europe/../../etc/passwd", "Europe/Berlin\n"}) {
    auto tz = TimeZone::load(name);
    ASSERT_FALSE(tz) << name;
    EXPECT_NE(tz.error().context.find(name), std::string::npos) << tz.error().context;
  }
  EXPECT_EQ(zone("").name(), "UTC");
  EXPECT_EQ(zone("UTC").offset_at(at(2026, 7, 1)), 0);
}

TEST(CronInTimeZone, SpringForwardMovesTheSkippedTimeForward) {
  const TimeZone ny = zone("America/New_York");
  // Daily at 02:30 New York: on 2026-03-08 that time is skipped and fires at 03:30 EDT.
  EXPECT_EQ(next("cron(30 2 * * ? *)", at(2026, 3, 8, 5), ny), at(2026, 3, 8, 7, 30));
  EXPECT_EQ(next("cron(30 2 * * ? *)", at(2026, 3, 8, 7, 10), ny), at(2026, 3, 8, 7, 30));
  EXPECT_EQ(next("cron(30 2 * * ? *)", at(2026, 3, 8, 7, 30), ny), at(2026, 3, 9, 6, 30));
  EXPECT_EQ(next("cron(30 2 * * ? *)", at(2026, 3, 7, 7, 30), ny), at(2026, 3, 8, 7, 30));
  const TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(next("cron(30 2 * * ? *)", at(2026, 3, 28, 12), berlin), at(2026, 3, 29, 1, 30));
  EXPECT_EQ(next("cron(30 2 * * ? *)", at(2026, 3, 29, 1, 30), berlin), at(2026, 3, 30, 0, 30));
}

TEST(CronInTimeZone, FallBackFiresEachWallClockHourOnce) {
  const TimeZone ny = zone("America/New_York");
  // From 2026-10-31 23:30 EDT: 00:00 EDT, 01:00 EDT, (01:00 EST skipped), 02:00 EST, 03:00 EST.
  std::vector<int64_t> fired;
  int64_t t = at(2026, 11, 1, 3, 30);
  for (int i = 0; i < 4; ++i) {
    auto n = next("cron(0 * * * ? *)", t, ny);
    ASSERT_TRUE(n);
    fired.push_back(*n);
    t = *n;
  }
  EXPECT_EQ(fired, (std::vector<int64_t>{at(2026, 11, 1, 4), at(2026, 11, 1, 5), at(2026, 11, 1, 7),
                                         at(2026, 11, 1, 8)}));
  // From inside the repeated hour's second pass, the next is 02:00 EST.
  EXPECT_EQ(next("cron(0 * * * ? *)", at(2026, 11, 1, 6, 30), ny), at(2026, 11, 1, 7));
  // A time in the repeated hour fires at its first occurrence only.
  EXPECT_EQ(next("cron(30 1 * * ? *)", at(2026, 11, 1, 5, 30), ny), at(2026, 11, 2, 6, 30));
  // Every 15 minutes keeps going through the change.
  EXPECT_EQ(next("cron(0/15 * * * ? *)", at(2026, 11, 1, 5, 50), ny), at(2026, 11, 1, 7, 0));
}

TEST(CronInTimeZone, WeekdaysFollowTheLocalDate) {
  // 09:00 Monday-Friday in Berlin; Friday 2026-01-02 09:00 CET is 08:00 UTC.
  const TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(next("cron(0 9 ? * MON-FRI *)", at(2026, 1, 2, 7), berlin), at(2026, 1, 2, 8));
  EXPECT_EQ(next("cron(0 9 ? * MON-FRI *)", at(2026, 1, 2, 8), berlin), at(2026, 1, 5, 8));
  // 00:30 on the 1st in Kolkata is the previous day in UTC.
  EXPECT_EQ(next("cron(30 0 1 * ? *)", at(2026, 1, 15), zone("Asia/Kolkata")), at(2026, 1, 31, 19));
}

}  // namespace
}  // namespace ember::host
