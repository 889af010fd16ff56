// ScheduleExpression: parsing EventBridge Scheduler's rate(), cron() and at() expressions and
// finding their next firing, searching wall-clock fields (year, month, day, hour, minute) in turn.
#include "host/events/schedule_expression.h"

#include <algorithm>
#include <bitset>
#include <cctype>
#include <vector>

#include "host/events/civil_time.h"

namespace ember::host {
namespace {

constexpr int kMinYear = 1970;
constexpr int kMaxYear = 2199;

// The values a cron field allows, bit (value - the field's minimum).
using ValueSet = std::bitset<kMaxYear - kMinYear + 1>;

struct FieldSpec {
  const char* name;
  int min, max;
  const char* const* names;  // JAN..DEC or SUN..SAT, or null
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

constexpr FieldSpec kMinutes{"minutes", 0, 59, nullptr};
constexpr FieldSpec kHours{"hours", 0, 23, nullptr};
constexpr FieldSpec kDayOfMonth{"day-of-month", 1, 31, nullptr};
constexpr FieldSpec kMonth{"month", 1, 12, kMonthNames};
constexpr FieldSpec kDayOfWeek{"day-of-week", 1, 7, kDayNames};
constexpr FieldSpec kYear{"year", kMinYear, kMaxYear, nullptr};

struct Field {
  ValueSet values;
  bool any = false;  // "?"
};

// What Parsed holds, in a type that the helpers below may name (Parsed is private).
struct Schedule {
  ScheduleExpression::Kind kind = ScheduleExpression::Kind::kRate;
  std::string text;
  int64_t period_s = 0;    // rate
  int64_t at_local_s = 0;  // at, wall clock as if UTC
  // cron
  Field minutes, hours, day_of_month, month, day_of_week, year;
  bool last_day = false;          // L in day-of-month
  bool last_weekday = false;      // LW
  std::vector<int> weekday_near;  // nW: the weekday nearest the nth
  std::bitset<8> last_of_week;    // nL in day-of-week: the last such day of the month
  int nth_day = 0, nth_week = 0;  // n#k in day-of-week
};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep, bool skip_empty) {
  std::vector<std::string_view> parts;
  size_t begin = 0;
  while (begin <= s.size()) {
    size_t end = s.find(sep, begin);
    if (end == std::string_view::npos) end = s.size();
    if (!skip_empty || end > begin) parts.push_back(s.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

// A decimal number of at most `max_digits` digits, nothing else.
std::optional<int64_t> parse_number(std::string_view s, size_t max_digits = 9) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Builds errors that all read "Invalid Schedule Expression <text>: <problem>".
class Problems {
 public:
  explicit Problems(std::string_view text) : text_(text) {}
  Error operator()(const std::string& problem) const {
    return make_error("parse schedule expression",
                      "Invalid Schedule Expression " + std::string(text_) + ": " + problem);
  }

 private:
  std::string_view text_;
};

Result<int> parse_value(std::string_view s, const FieldSpec& spec, const Problems& bad) {
  std::optional<int64_t> v = parse_number(s, 4);
  if (!v && spec.names) {
    const std::string name = upper(s);
    for (int i = 0; i <= spec.max - spec.min; ++i) {
      if (name == spec.names[i]) v = spec.min + i;
    }
  }
  if (!v) {
    return bad(std::string(spec.name) + " has '" + std::string(s) + "', which is not a " +
               (spec.names ? "number or name" : "number"));
  }
  if (*v < spec.min || *v > spec.max) {
    return bad(std::string(spec.name) + " value " + std::to_string(*v) + " is out of range " +
               std::to_string(spec.min) + "-" + std::to_string(spec.max));
  }
  return static_cast<int>(*v);
}

// One comma-separated item of the generic syntax: *, a, a-b, with an optional /step.
Status parse_range(std::string_view item, const FieldSpec& spec, ValueSet& out,
                   const Problems& bad) {
  std::string_view range = item;
  int step = 1;
  if (size_t slash = item.find('/'); slash != std::string_view::npos) {
    range = item.substr(0, slash);
    auto n = parse_number(item.substr(slash + 1), 4);
    if (!n || *n < 1) {
      return bad(std::string(spec.name) + " has '" + std::string(item) +
                 "': the increment after / must be a positive number");
    }
    step = static_cast<int>(*n);
  }
  int first = spec.min, last = spec.max;
  if (range != "*") {
    const size_t dash = range.find('-');
    EMBER_TRY(first, parse_value(range.substr(0, dash), spec, bad));
    if (dash != std::string_view::npos) {
      EMBER_TRY(last, parse_value(range.substr(dash + 1), spec, bad));
    } else if (step == 1) {
      last = first;  // a single value; "a/step" runs to the field's end
    }
  }
  if (first > last && spec.min == kMinYear) {
    return bad("year range " + std::string(range) + " ends before it starts");
  }
  // A range such as FRI-MON or 22-2 wraps around the field's end.
  const int span = spec.max - spec.min + 1;
  const int count = (last - first + span) % span + 1;
  for (int i = 0; i < count; i += step) out.set((first - spec.min + i) % span);
  return {};
}

Result<Field> parse_field(std::string_view text, const FieldSpec& spec, Schedule& p,
                          const Problems& bad) {
  Field field;
  if (text == "?") {
    if (&spec != &kDayOfMonth && &spec != &kDayOfWeek) {
      return bad(std::string("? is allowed only in day-of-month and day-of-week, not in ") +
                 spec.name);
    }
    field.any = true;
    return field;
  }
  for (std::string_view item : split(text, ',', false)) {
    const std::string u = upper(item);
    if (item.empty()) {
      return bad(std::string(spec.name) + " has an empty item in '" + std::string(text) + "'");
    }
    if (&spec == &kDayOfMonth && (u == "L" || u == "LW")) {
      (u == "L" ? p.last_day : p.last_weekday) = true;
    } else if (&spec == &kDayOfMonth && u.size() > 1 && u.back() == 'W') {
      EMBER_TRY(int day, parse_value(item.substr(0, item.size() - 1), spec, bad));
      p.weekday_near.push_back(day);
    } else if (&spec == &kDayOfWeek && u == "L") {
      field.values.set(7 - spec.min);  // the last day of the week: Saturday
    } else if (&spec == &kDayOfWeek && u.size() > 1 && u.back() == 'L') {
      EMBER_TRY(int day, parse_value(item.substr(0, item.size() - 1), spec, bad));
      p.last_of_week.set(day);
    } else if (&spec == &kDayOfWeek && u.find('#') != std::string::npos) {
      if (item.size() != text.size()) {
        return bad("day-of-week allows only one expression with #, not a list ('" +
                   std::string(text) + "')");
      }
      const size_t hash = item.find('#');
      EMBER_TRY(p.nth_day, parse_value(item.substr(0, hash), spec, bad));
      auto week = parse_number(item.substr(hash + 1), 1);
      if (!week || *week < 1 || *week > 5) {
        return bad("day-of-week has '" + std::string(item) +
                   "': the number after # must be 1-5 (the nth such day of the month)");
      }
      p.nth_week = static_cast<int>(*week);
    } else if (item == "?") {
      return bad(std::string(spec.name) + " uses ? in a list; ? must stand alone");
    } else {
      EMBER_CHECK(parse_range(item, spec, field.values, bad));
    }
  }
  return field;
}

Status parse_cron(std::string_view body, Schedule& p, const Problems& bad) {
  const auto fields = split(body, ' ', true);
  if (fields.size() != 6) {
    return bad("cron expressions have six fields (minutes hours day-of-month month " +
               std::string("day-of-week year), this one has ") + std::to_string(fields.size()));
  }
  EMBER_TRY(p.minutes, parse_field(fields[0], kMinutes, p, bad));
  EMBER_TRY(p.hours, parse_field(fields[1], kHours, p, bad));
  EMBER_TRY(p.day_of_month, parse_field(fields[2], kDayOfMonth, p, bad));
  EMBER_TRY(p.month, parse_field(fields[3], kMonth, p, bad));
  EMBER_TRY(p.day_of_week, parse_field(fields[4], kDayOfWeek, p, bad));
  EMBER_TRY(p.year, parse_field(fields[5], kYear, p, bad));
  if (p.day_of_month.any && p.day_of_week.any) {
    return bad("day-of-month and day-of-week cannot both be ?; give a value in one of them");
  }
  if (!p.day_of_month.any && !p.day_of_week.any) {
    return bad("day-of-month and day-of-week cannot both be specified; use ? in one of them");
  }
  return {};
}

Status parse_rate(std::string_view body, Schedule& p, const Problems& bad) {
  const auto parts = split(body, ' ', true);
  if (parts.size() != 2) return bad("rate expressions are rate(value unit), e.g. rate(5 minutes)");
  auto value = parse_number(parts[0]);
  if (!value || *value < 1) {
    return bad("the rate value '" + std::string(parts[0]) + "' must be a positive whole number");
  }
  const std::string unit(parts[1]);
  int64_t unit_s = 0;
  if (unit == "minute" || unit == "minutes") unit_s = 60;
  if (unit == "hour" || unit == "hours") unit_s = 3600;
  if (unit == "day" || unit == "days") unit_s = 86400;
  if (unit_s == 0) return bad("the rate unit '" + unit + "' must be minutes, hours or days");
  const bool plural = unit.back() == 's';
  if (*value == 1 && plural) {
    return bad("a rate of 1 takes the singular unit, " + unit.substr(0, unit.size() - 1));
  }
  if (*value != 1 && !plural) {
    return bad("a rate of " + std::to_string(*value) + " takes the plural unit, " + unit + "s");
  }
  p.period_s = *value * unit_s;
  return {};
}

Status parse_at(std::string_view body, Schedule& p, const Problems& bad) {
  // yyyy-mm-ddThh:mm:ss, exactly.
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  bool shaped = body.size() == kShape.size();
  for (size_t i = 0; shaped && i < body.size(); ++i) {
    shaped = kShape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(body[i])) != 0
                              : body[i] == kShape[i];
  }
  if (!shaped) return bad("at expressions are at(yyyy-mm-ddThh:mm:ss)");
  auto num = [&](size_t pos, size_t len) { return *parse_number(body.substr(pos, len)); };
  const int64_t y = num(0, 4), mo = num(5, 2), d = num(8, 2);
  const int64_t h = num(11, 2), mi = num(14, 2), s = num(17, 2);
  if (y < kMinYear || y > kMaxYear) return bad("the year must be 1970-2199");
  if (mo < 1 || mo > 12) return bad("the month must be 01-12");
  if (d < 1 || d > civil::days_in_month(y, static_cast<int>(mo))) {
    return bad("day " + std::to_string(d) + " does not exist in that month");
  }
  if (h > 23 || mi > 59 || s > 59) return bad("the time must be 00:00:00-23:59:59");
  p.at_local_s =
      civil::days_from_civil(y, static_cast<int>(mo), static_cast<int>(d)) * civil::kSecondsPerDay +
      h * 3600 + mi * 60 + s;
  return {};
}

// The weekday (Mon-Fri) nearest `target` without leaving the month, as Quartz's W does.
int nearest_weekday(int64_t year, int month, int target) {
  const int dim = civil::days_in_month(year, month);
  const int wd = civil::weekday(civil::days_from_civil(year, month, target));
  if (wd == 6) return target == 1 ? 3 : target - 1;          // Saturday
  if (wd == 0) return target == dim ? dim - 2 : target + 1;  // Sunday
  return target;
}

bool day_matches(const Schedule& p, const civil::Date& date, int64_t days) {
  const int dim = civil::days_in_month(date.year, date.month);
  if (p.day_of_week.any) {  // day-of-month decides
    if (p.day_of_month.values.test(date.day - 1)) return true;
    if (p.last_day && date.day == dim) return true;
    if (p.last_weekday && date.day == nearest_weekday(date.year, date.month, dim)) return true;
    for (int target : p.weekday_near) {
      if (target <= dim && date.day == nearest_weekday(date.year, date.month, target)) return true;
    }
    return false;
  }
  const int dow = civil::weekday(days) + 1;  // 1 = Sunday, as cron counts
  if (p.day_of_week.values.test(dow - 1)) return true;
  if (p.last_of_week.test(dow) && date.day + 7 > dim) return true;
  return p.nth_week != 0 && dow == p.nth_day && (date.day - 1) / 7 + 1 == p.nth_week;
}

// The next value >= from in the set, or -1.
int next_in(const ValueSet& set, int min, int max, int from) {
  for (int v = std::max(from, min); v <= max; ++v) {
    if (set.test(v - min)) return v;
  }
  return -1;
}

// The first wall-clock minute at or after `local_s` that the cron fields match.
std::optional<int64_t> next_cron_local(const Schedule& p, int64_t local_s) {
  using civil::kSecondsPerDay;
  int64_t t = civil::floor_div(local_s + 59, 60) * 60;
  for (;;) {
    const int64_t days = civil::floor_div(t, kSecondsPerDay);
    const civil::Date date = civil::civil_from_days(days);
    const int64_t second_of_day = t - days * kSecondsPerDay;
    const int hour = static_cast<int>(second_of_day / 3600);
    const int minute = static_cast<int>(second_of_day % 3600 / 60);
    if (date.year > kMaxYear) return std::nullopt;
    if (date.year < kMinYear) {
      t = civil::days_from_civil(kMinYear, 1, 1) * kSecondsPerDay;
      continue;
    }
    const int year = static_cast<int>(date.year);
    if (!p.year.values.test(year - kMinYear)) {
      const int next = next_in(p.year.values, kMinYear, kMaxYear, year + 1);
      if (next < 0) return std::nullopt;
      t = civil::days_from_civil(next, 1, 1) * kSecondsPerDay;
      continue;
    }
    if (!p.month.values.test(date.month - 1)) {
      const int next = next_in(p.month.values, 1, 12, date.month + 1);
      t = (next < 0 ? civil::days_from_civil(year + 1, 1, 1)
                    : civil::days_from_civil(year, next, 1)) *
          kSecondsPerDay;
      continue;
    }
    if (!day_matches(p, date, days)) {
      t = (days + 1) * kSecondsPerDay;
      continue;
    }
    if (!p.hours.values.test(hour)) {
      const int next = next_in(p.hours.values, 0, 23, hour + 1);
      t = next < 0 ? (days + 1) * kSecondsPerDay : days * kSecondsPerDay + next * 3600;
      continue;
    }
    if (!p.minutes.values.test(minute)) {
      const int next = next_in(p.minutes.values, 0, 59, minute + 1);
      const int64_t hour_start = days * kSecondsPerDay + hour * 3600;
      t = next < 0 ? hour_start + 3600 : hour_start + next * 60;
      continue;
    }
    return t;
  }
}

}  // namespace

struct ScheduleExpression::Parsed : Schedule {};

Result<ScheduleExpression> ScheduleExpression::parse(std::string_view text) {
  const Problems bad(text);
  auto p = std::make_shared<Parsed>();
  p->text = std::string(text);
  const size_t open = text.find('(');
  if (open == std::string_view::npos || text.empty() || text.back() != ')') {
    return bad("expected rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)");
  }
  const std::string_view head = text.substr(0, open);
  const std::string_view body = text.substr(open + 1, text.size() - open - 2);
  if (head == "rate") {
    p->kind = Kind::kRate;
    EMBER_CHECK(parse_rate(body, *p, bad));
  } else if (head == "cron") {
    p->kind = Kind::kCron;
    EMBER_CHECK(parse_cron(body, *p, bad));
  } else if (head == "at") {
    p->kind = Kind::kAt;
    EMBER_CHECK(parse_at(body, *p, bad));
  } else {
    return bad("expected rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)");
  }
  return ScheduleExpression(std::move(p));
}

ScheduleExpression::Kind ScheduleExpression::kind() const { return parsed_->kind; }

const std::string& ScheduleExpression::text() const { return parsed_->text; }

std::optional<int64_t> ScheduleExpression::next_after(int64_t after_s, const TimeZone& tz,
                                                      int64_t anchor_s) const {
  const Schedule& p = *parsed_;
  switch (p.kind) {
    case Kind::kRate:
      if (after_s < anchor_s) return anchor_s;
      return anchor_s + ((after_s - anchor_s) / p.period_s + 1) * p.period_s;
    case Kind::kAt: {
      const int64_t at = tz.to_utc(p.at_local_s);
      if (at > after_s) return at;
      return std::nullopt;
    }
    case Kind::kCron:
      break;
  }
  // Wall-clock times map to instants monotonically, so search wall-clock times from the
  // earliest one that could land after `after_s` (with the smallest offset near it: a time in
  // a spring-forward gap is moved past the gap) and take the first that does.
  const int64_t min_offset =
      std::min({tz.offset_at(after_s - civil::kSecondsPerDay), tz.offset_at(after_s),
                tz.offset_at(after_s + civil::kSecondsPerDay)});
  int64_t local = after_s + min_offset + 1;
  for (;;) {
    const std::optional<int64_t> match = next_cron_local(p, local);
    if (!match) return std::nullopt;
    const int64_t at = tz.to_utc(*match);
    if (at > after_s) return at;
    local = *match + 60;
  }
}

}  // namespace ember::host
