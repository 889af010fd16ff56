// TimeZone: IANA zones read from TZif files (RFC 8536), with the footer's POSIX TZ rule for
// times past the last listed transition. Immutable once loaded, so copies share it across threads.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/unique_fd.h"
#include "host/events/civil_time.h"
#include "host/events/schedule_expression.h"

namespace ember::host {
namespace {

constexpr char kZoneInfoDir[] = "/usr/share/zoneinfo/";
constexpr size_t kMaxTzifBytes = 1 << 20;

// One of the two yearly changes of a POSIX TZ rule ("M3.2.0/2", "J60", "59").
struct PosixDate {
  enum class Kind { kJulian, kZeroBased, kMonthWeekDay } kind = Kind::kMonthWeekDay;
  int month = 0, week = 0, wday = 0;  // Mm.w.d
  int day = 0;                        // Jn (1-365, never Feb 29) or n (0-365)
  int64_t time_s = 7200;              // local time of day of the change, 02:00 unless given

  // Local seconds (in the offset in force before the change) of the change in `year`.
  int64_t local_in(int64_t year) const {
    const int64_t jan1 = civil::days_from_civil(year, 1, 1);
    int64_t days = 0;
    switch (kind) {
      case Kind::kJulian:
        days = jan1 + day - 1 + (civil::is_leap(year) && day >= 60 ? 1 : 0);
        break;
      case Kind::kZeroBased:
        days = jan1 + day;
        break;
      case Kind::kMonthWeekDay: {
        const int64_t first = civil::days_from_civil(year, month, 1);
        days = first + (wday - civil::weekday(first) + 7) % 7 + (week - 1) * 7;
        // Week 5 is "the last": step back into the month when it has only four.
        while (days >= first + civil::days_in_month(year, month)) days -= 7;
        break;
      }
    }
    return days * civil::kSecondsPerDay + time_s;
  }
};

// A TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" (offsets here are seconds east of UTC).
struct PosixRule {
  int64_t std_offset = 0;
  bool has_dst = false;
  int64_t dst_offset = 0;
  PosixDate start, end;

  int64_t offset_at(int64_t utc_s) const {
    if (!has_dst) return std_offset;
    const int64_t year =
        civil::civil_from_days(civil::floor_div(utc_s + std_offset, civil::kSecondsPerDay)).year;
    const int64_t start_utc = start.local_in(year) - std_offset;
    const int64_t end_utc = end.local_in(year) - dst_offset;
    const bool dst = start_utc < end_utc ? utc_s >= start_utc && utc_s < end_utc
                                         : !(utc_s >= end_utc && utc_s < start_utc);
    return dst ? dst_offset : std_offset;
  }
};

// Parses the POSIX TZ grammar: std offset [dst [offset] [,date[/time],date[/time]]].
class PosixParser {
 public:
  explicit PosixParser(std::string_view s) : s_(s) {}

  std::optional<PosixRule> parse() {
    PosixRule rule;
    if (!name()) return std::nullopt;
    auto std_west = hms(true);
    if (!std_west) return std::nullopt;
    rule.std_offset = -*std_west;
    if (at_end()) return rule;
    if (!name()) return std::nullopt;
    rule.has_dst = true;
    rule.dst_offset = rule.std_offset + 3600;
    if (!at_end() && peek() != ',') {
      auto dst_west = hms(true);
      if (!dst_west) return std::nullopt;
      rule.dst_offset = -*dst_west;
    }
    if (at_end()) {  // no rule given: POSIX's default is the US one
      rule.start = PosixDate{PosixDate::Kind::kMonthWeekDay, 3, 2, 0, 0, 7200};
      rule.end = PosixDate{PosixDate::Kind::kMonthWeekDay, 11, 1, 0, 0, 7200};
      return rule;
    }
    if (!eat(',') || !date(rule.start) || !eat(',') || !date(rule.end) || !at_end()) {
      return std::nullopt;
    }
    return rule;
  }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }

  bool name() {
    if (eat('<')) {
      while (!at_end() && peek() != '>') ++i_;
      return eat('>');
    }
    const size_t begin = i_;
    while (std::isalpha(static_cast<unsigned char>(peek()))) ++i_;
    return i_ - begin >= 3;
  }

  std::optional<int64_t> number(int max_digits) {
    int64_t v = 0;
    int digits = 0;
    while (digits < max_digits && std::isdigit(static_cast<unsigned char>(peek()))) {
      v = v * 10 + (s_[i_++] - '0');
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    return v;
  }

  // [+-]hh[:mm[:ss]] in seconds; hours may reach 167 in rule times (RFC 8536's extension).
  std::optional<int64_t> hms(bool allow_sign) {
    int64_t sign = 1;
    if (allow_sign && eat('-')) {
      sign = -1;
    } else if (allow_sign) {
      eat('+');
    }
    auto h = number(3);
    if (!h) return std::nullopt;
    int64_t total = *h * 3600;
    if (eat(':')) {
      auto m = number(2);
      if (!m) return std::nullopt;
      total += *m * 60;
      if (eat(':')) {
        auto sec = number(2);
        if (!sec) return std::nullopt;
        total += *sec;
      }
    }
    return sign * total;
  }

  bool date(PosixDate& d) {
    if (eat('M')) {
      auto m = number(2);
      if (!m || !eat('.')) return false;
      auto w = number(1);
      if (!w || !eat('.')) return false;
      auto wd = number(1);
      if (!wd || *m < 1 || *m > 12 || *w < 1 || *w > 5 || *wd > 6) return false;
      d.kind = PosixDate::Kind::kMonthWeekDay;
      d.month = static_cast<int>(*m);
      d.week = static_cast<int>(*w);
      d.wday = static_cast<int>(*wd);
    } else {
      const bool julian = eat('J');
      auto n = number(3);
      if (!n || (julian && (*n < 1 || *n > 365)) || *n > 365) return false;
      d.kind = julian ? PosixDate::Kind::kJulian : PosixDate::Kind::kZeroBased;
      d.day = static_cast<int>(*n);
    }
    if (eat('/')) {
      auto t = hms(true);
      if (!t) return false;
      d.time_s = *t;
    }
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// Big-endian reads over the file's bytes, refusing to run past the end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool has(size_t n) const { return bytes_.size() - pos_ >= n; }
  size_t pos() const { return pos_; }
  void skip(size_t n) { pos_ += n; }
  int64_t be(size_t width) {
    uint64_t v = 0;
    for (size_t i = 0; i < width; ++i) v = v << 8 | static_cast<uint8_t>(bytes_[pos_ + i]);
    pos_ += width;
    if (width == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<int64_t>(v);
  }
  uint8_t byte() { return static_cast<uint8_t>(bytes_[pos_++]); }
  std::string_view rest() const { return bytes_.substr(pos_); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

struct TzifCounts {
  int64_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
  size_t block_size(size_t time_width) const {
    return timecnt * time_width + timecnt + typecnt * 6 + charcnt + leapcnt * (time_width + 4) +
           isstdcnt + isutcnt;
  }
};

std::optional<std::pair<char, TzifCounts>> read_header(Reader& r) {
  if (!r.has(44) || r.rest().substr(0, 4) != "TZif") return std::nullopt;
  r.skip(4);
  const char version = static_cast<char>(r.byte());
  r.skip(15);
  TzifCounts c{};
  for (int64_t* field : {&c.isutcnt, &c.isstdcnt, &c.leapcnt, &c.timecnt, &c.typecnt, &c.charcnt}) {
    *field = r.be(4);
    if (*field < 0) return std::nullopt;
  }
  if (c.typecnt < 1) return std::nullopt;
  return std::make_pair(version, c);
}

// What Data holds, in a type that the helpers below may name (Data is private).
struct ZoneData {
  std::string name;
  std::vector<int64_t> transitions;  // UTC seconds, ascending
  std::vector<int64_t> offsets;      // offset in force from transitions[i] on
  int64_t initial_offset = 0;        // before the first transition
  std::optional<PosixRule> rule;     // after the last transition
};

// Fills `data` from a TZif file's bytes; false when they are not a TZif file.
bool parse_tzif(std::string_view bytes, ZoneData& data) {
  Reader r(bytes);
  auto header = read_header(r);
  if (!header) return false;
  auto [version, counts] = *header;
  size_t time_width = 4;
  if (version >= '2') {  // skip the 32-bit block for the 64-bit one after it
    if (!r.has(counts.block_size(4))) return false;
    r.skip(counts.block_size(4));
    header = read_header(r);
    if (!header) return false;
    counts = header->second;
    time_width = 8;
  }
  if (!r.has(counts.block_size(time_width))) return false;
  std::vector<int64_t> times(counts.timecnt);
  for (auto& t : times) t = r.be(time_width);
  std::vector<uint8_t> type_of(counts.timecnt);
  for (auto& t : type_of) {
    t = r.byte();
    if (t >= counts.typecnt) return false;
  }
  std::vector<int64_t> utoff(counts.typecnt);
  for (auto& off : utoff) {
    off = r.be(4);
    r.skip(2);  // isdst, desigidx: names are not needed
  }
  r.skip(counts.charcnt + counts.leapcnt * (time_width + 4) + counts.isstdcnt + counts.isutcnt);
  data.initial_offset = utoff[0];
  for (size_t i = 0; i < times.size(); ++i) {
    if (!data.transitions.empty() && times[i] <= data.transitions.back()) return false;
    data.transitions.push_back(times[i]);
    data.offsets.push_back(utoff[type_of[i]]);
  }
  if (time_width == 8) {
    std::string_view footer = r.rest();
    if (footer.size() >= 2 && footer[0] == '\n') {
      footer = footer.substr(1, footer.find('\n', 1) - 1);
      if (!footer.empty()) data.rule = PosixParser(footer).parse();
    }
  }
  return true;
}

// The file's bytes; empty when it cannot be read (missing, a directory) or is too large to be
// a zoneinfo file.
std::string read_small_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  std::string bytes;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || bytes.size() + n > kMaxTzifBytes) return {};
    if (n == 0) return bytes;
    bytes.append(buf, static_cast<size_t>(n));
  }
}

bool valid_zone_name(const std::string& name) {
  if (name.front() == '/' || name.find("..") != std::string::npos || name.size() > 255) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
           c == '+' || c == '.';
  });
}

}  // namespace

struct TimeZone::Data : ZoneData {};

TimeZone TimeZone::utc() {
  auto data = std::make_shared<Data>();
  data->name = "UTC";
  return TimeZone(std::move(data));
}

Result<TimeZone> TimeZone::load(const std::string& name) {
  if (name.empty() || name == "UTC") return utc();
  if (!valid_zone_name(name)) {
    return make_error("load time zone", "invalid time zone name '" + name +
                                            "': expected an IANA name such as Europe/Berlin");
  }
  const std::string path = kZoneInfoDir + name;
  const std::string bytes = read_small_file(path);
  auto data = std::make_shared<Data>();
  data->name = name;
  if (bytes.empty() || !parse_tzif(bytes, *data)) {
    return make_error("load time zone", "unknown time zone '" + name + "': " + path +
                                            " is not a zoneinfo file (is tzdata installed?)");
  }
  return TimeZone(std::move(data));
}

const std::string& TimeZone::name() const { return data_->name; }

int64_t TimeZone::offset_at(int64_t utc_s) const {
  const ZoneData& d = *data_;
  auto after = std::upper_bound(d.transitions.begin(), d.transitions.end(), utc_s);
  if (after == d.transitions.end() && d.rule) return d.rule->offset_at(utc_s);
  if (after == d.transitions.begin()) return d.initial_offset;
  return d.offsets[after - d.transitions.begin() - 1];
}

int64_t TimeZone::to_utc(int64_t local_s) const {
  // Offsets stay within a day of UTC, so the offsets a day either side are the ones in force
  // before and after any change near this local time.
  const int64_t before = offset_at(local_s - civil::kSecondsPerDay);
  const int64_t after = offset_at(local_s + civil::kSecondsPerDay);
  const int64_t first = std::min(local_s - before, local_s - after);
  const int64_t second = std::max(local_s - before, local_s - after);
  if (offset_at(first) == local_s - first) return first;  // the earlier of two occurrences
  if (offset_at(second) == local_s - second) return second;
  // Skipped by a change: read in the offset before it, which lands after it, moved by the gap.
  return local_s - before;
}

}  // namespace ember::host
