// ScheduleRunner: when each schedule fires, the catch-up after a restart, and the thread.
#include "host/events/schedule_runner.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "host/api/lambda_json.h"
#include "host/api/schedule_json.h"
#include "host/api/uuid.h"

namespace ember::host {
namespace {

// A pass fires at most this many firings of one schedule before looking at the others.
constexpr int kMaxFiringsPerPass = 100;

int64_t system_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-23T10:00:00.000+0000", for log lines.
std::string when(int64_t unix_s) { return lambda_timestamp(unix_s * 1000); }

// A well-mixed 64-bit hash of the schedule and the firing (FNV-1a, then splitmix64's
// finalizer): a FLEXIBLE firing's moment is spread over the window like a random one, but
// the same after a restart.
uint64_t firing_hash(const std::string& name, int64_t scheduled_s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
  h ^= static_cast<uint64_t>(scheduled_s);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

bool is_at(const ScheduleExpression& expression) {
  return expression.kind() == ScheduleExpression::Kind::kAt;
}

// Firings at or before this are not owed: those before the last change (creating, updating,
// re-enabling a schedule never fires its past) and, but for at(), those before StartDate.
int64_t baseline_s(const ScheduleRecord& r, const ScheduleExpression& expression) {
  int64_t floor = r.modified_s;
  if (!is_at(expression) && r.start_s) floor = std::max(floor, *r.start_s - 1);
  return floor;
}

}  // namespace

ScheduleRunner::ScheduleRunner(ScheduleStore& store, EventQueue& queue,
                               ScheduleRunnerOptions options)
    : ScheduleRunner(
          store,
          [&queue](const NewEvent& event) -> Status {
            auto queued = queue.enqueue(event);
            if (!queued.ok()) return queued.error();
            return {};
          },
          std::move(options)) {}

ScheduleRunner::ScheduleRunner(ScheduleStore& store, Enqueue enqueue, ScheduleRunnerOptions options)
    : store_(store),
      enqueue_(std::move(enqueue)),
      options_(std::move(options)),
      started_s_(options_.clock ? options_.clock() : system_now_s()) {}

ScheduleRunner::~ScheduleRunner() {
  {
    std::lock_guard lock(wake_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ScheduleRunner::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

void ScheduleRunner::changed() {
  {
    std::lock_guard lock(wake_mu_);
    changed_ = true;
  }
  wake_.notify_all();
}

int64_t ScheduleRunner::now() const { return options_.clock ? options_.clock() : system_now_s(); }

void ScheduleRunner::loop() {
  while (true) {
    const std::optional<int64_t> next = run_pass();
    std::unique_lock lock(wake_mu_);
    if (stopping_) return;
    if (changed_) {
      changed_ = false;
      continue;
    }
    const auto woken = [this] { return stopping_ || changed_; };
    const auto longest = std::chrono::steady_clock::now() + options_.longest_sleep;
    if (!next) {
      wake_.wait_until(lock, longest, woken);
    } else if (!options_.clock) {
      // The real clock: wake on the due second itself, not up to a second after it.
      const auto due = std::chrono::system_clock::time_point(std::chrono::seconds(*next));
      const auto wait = std::min<std::chrono::steady_clock::duration>(
          due - std::chrono::system_clock::now(), options_.longest_sleep);
      if (wait > wait.zero()) wake_.wait_for(lock, wait, woken);
    } else {
      const auto wait = std::min<std::chrono::milliseconds>(std::chrono::seconds(*next - now()),
                                                            options_.longest_sleep);
      if (wait > wait.zero()) wake_.wait_for(lock, wait, woken);
    }
    if (stopping_) return;
    changed_ = false;
  }
}

std::optional<ScheduleFiring> ScheduleRunner::next_firing(const ScheduleRecord& r,
                                                          const ScheduleExpression& expression,
                                                          const TimeZone& zone, int64_t after_s) {
  const bool one_time = is_at(expression);  // at() ignores StartDate and EndDate
  if (!one_time && r.start_s) after_s = std::max(after_s, *r.start_s - 1);
  const int64_t anchor = r.start_s.value_or(r.created_s);
  const std::optional<int64_t> scheduled = expression.next_after(after_s, zone, anchor);
  if (!scheduled) return std::nullopt;
  // EndDate is the date before which the schedule may fire.
  if (!one_time && r.end_s && *scheduled >= *r.end_s) return std::nullopt;
  ScheduleFiring firing{*scheduled, *scheduled};
  if (r.flexible_mode == "FLEXIBLE" && r.flexible_window_min > 0) {
    int64_t window = int64_t{r.flexible_window_min} * 60;
    // Within the window, but before the next scheduled time, so firings stay in order.
    if (auto following = expression.next_after(*scheduled, zone, anchor)) {
      window = std::min(window, *following - *scheduled);
    }
    if (window > 1) {
      firing.fire_s +=
          static_cast<int64_t>(firing_hash(r.name, *scheduled) % static_cast<uint64_t>(window));
    }
  }
  return firing;
}

std::optional<int64_t> ScheduleRunner::run_pass() {
  std::lock_guard pass(pass_mu_);
  const int64_t now = this->now();
  const int64_t retry_s = std::max<int64_t>(1, (options_.retry_delay.count() + 999) / 1000);
  auto records = store_.enabled();
  if (!records.ok()) {
    std::fprintf(stderr, "emberd: schedules: %s; trying again\n",
                 records.error().message().c_str());
    return now + retry_s;
  }
  std::optional<int64_t> next;
  std::set<std::string> seen;
  for (const ScheduleRecord& record : *records) {
    seen.insert(record.name);
    auto found = compiled_.find(record.name);
    if (found == compiled_.end() || found->second.revision != record.revision) {
      auto expression = ScheduleExpression::parse(record.expression);
      auto zone = TimeZone::load(record.timezone);
      if (!expression.ok() || !zone.ok()) {
        // Checked when stored, so the zone file went away: said once per revision.
        if (broken_[record.name] != record.revision + 1) {
          const Error& e = expression.ok() ? zone.error() : expression.error();
          std::fprintf(stderr, "emberd: schedule %s does not fire: %s\n", record.name.c_str(),
                       e.message().c_str());
          broken_[record.name] = record.revision + 1;
        }
        continue;
      }
      const int64_t cursor = found == compiled_.end() ? 0 : found->second.cursor_s;
      found =
          compiled_
              .insert_or_assign(record.name, Compiled{record.revision, *expression, *zone, cursor})
              .first;
    }
    Compiled& compiled = found->second;
    compiled.cursor_s =
        std::max({compiled.cursor_s, record.last_fired_s, baseline_s(record, compiled.expression)});
    if (std::optional<int64_t> due = process(record, compiled, now)) {
      next = next ? std::min(*next, *due) : *due;
    }
  }
  std::erase_if(compiled_, [&](const auto& entry) { return !seen.contains(entry.first); });
  std::erase_if(broken_, [&](const auto& entry) { return !seen.contains(entry.first); });
  return next;
}

std::optional<int64_t> ScheduleRunner::process(const ScheduleRecord& record, Compiled& compiled,
                                               int64_t now) {
  const int64_t retry_s = std::max<int64_t>(1, (options_.retry_delay.count() + 999) / 1000);
  for (int i = 0; i < kMaxFiringsPerPass; ++i) {
    const std::optional<ScheduleFiring> firing =
        next_firing(record, compiled.expression, compiled.zone, compiled.cursor_s);
    if (!firing) {
      complete(record);
      return std::nullopt;
    }
    if (firing->fire_s > now) return firing->fire_s;
    if (firing->fire_s < started_s_) {
      if (!catch_up(record, compiled, *firing, now)) return now + retry_s;
      continue;
    }
    if (now - firing->fire_s > record.target.max_event_age_s) {
      // Due while the runner was running but not fired in time (enqueues failing, the clock
      // stepped): the dispatcher would drop it as too old anyway.
      std::fprintf(stderr,
                   "emberd: schedule %s: skipped the firing of %s: older than its "
                   "MaximumEventAgeInSeconds (%lld)\n",
                   record.name.c_str(), when(firing->fire_s).c_str(),
                   static_cast<long long>(record.target.max_event_age_s));
      advance(record, compiled, firing->scheduled_s);
      continue;
    }
    if (auto fired = fire(record, *firing); !fired.ok()) {
      std::fprintf(stderr, "emberd: schedule %s: firing of %s not queued, trying again: %s\n",
                   record.name.c_str(), when(firing->fire_s).c_str(),
                   fired.error().message().c_str());
      return now + retry_s;
    }
    advance(record, compiled, firing->scheduled_s);
  }
  return now;  // more are due: the next pass goes on
}

bool ScheduleRunner::catch_up(const ScheduleRecord& record, Compiled& compiled,
                              ScheduleFiring first, int64_t now) {
  const int64_t max_age = record.target.max_event_age_s;
  const int64_t window_s =
      record.flexible_mode == "FLEXIBLE" ? int64_t{record.flexible_window_min} * 60 : 0;
  // A firing scheduled at or before `floor` fired (at the latest) more than max_age ago, so
  // the search for the latest missed one need not start earlier: it stays short however
  // long emberd was down.
  const int64_t floor = now - max_age - window_s - 1;
  std::optional<ScheduleFiring> latest;
  int64_t cursor = std::max(compiled.cursor_s, floor);
  if (first.scheduled_s > floor) {
    latest = first;
    cursor = first.scheduled_s;
  }
  while (auto missed = next_firing(record, compiled.expression, compiled.zone, cursor)) {
    if (missed->fire_s >= started_s_) break;
    latest = *missed;
    cursor = missed->scheduled_s;
  }
  if (latest && now - latest->fire_s <= max_age) {
    if (auto fired = fire(record, *latest); !fired.ok()) {
      std::fprintf(
          stderr, "emberd: schedule %s: catch-up firing of %s not queued, trying again: %s\n",
          record.name.c_str(), when(latest->fire_s).c_str(), fired.error().message().c_str());
      return false;
    }
    std::fprintf(stderr,
                 "emberd: schedule %s: fired once for the firings missed while emberd was "
                 "down (the latest, of %s)\n",
                 record.name.c_str(), when(latest->fire_s).c_str());
  } else {
    std::fprintf(stderr,
                 "emberd: schedule %s: skipped the firings missed while emberd was down (since "
                 "%s): older than its MaximumEventAgeInSeconds (%lld)\n",
                 record.name.c_str(), when(first.fire_s).c_str(), static_cast<long long>(max_age));
  }
  advance(record, compiled, cursor);
  return true;
}

Status ScheduleRunner::fire(const ScheduleRecord& record, const ScheduleFiring& firing) {
  const std::string function = target_function_name(record.target.arn);
  if (function.empty()) {
    // Refused by the API; a damaged row is said and passed over rather than retried forever.
    std::fprintf(stderr, "emberd: schedule %s: target %s is not a function; not fired\n",
                 record.name.c_str(), record.target.arn.c_str());
    return {};
  }
  const NewEvent event{
      .request_id = random_uuid(),
      .function_name = function,
      .payload = record.target.input.empty() ? "{}" : record.target.input,
      .accepted_ms = firing.fire_s * 1000,
      // Scheduler's MaximumRetryAttempts is about reaching the target, which here is the
      // local queue: function errors follow the function's own EventInvokeConfig (0-2).
      .max_retries = -1,
      .max_event_age_s = record.target.max_event_age_s,
      .dead_letter_arn = record.target.dead_letter_arn,
      .source = "schedule:" + record.name,
  };
  return enqueue_(event);
}

void ScheduleRunner::advance(const ScheduleRecord& record, Compiled& compiled,
                             int64_t scheduled_s) {
  compiled.cursor_s = std::max(compiled.cursor_s, scheduled_s);
  if (auto stored = store_.set_last_fired(record.name, compiled.cursor_s); !stored.ok()) {
    std::fprintf(stderr, "emberd: schedule %s: %s\n", record.name.c_str(),
                 stored.error().message().c_str());
  }
}

void ScheduleRunner::complete(const ScheduleRecord& record) {
  if (record.action_after_completion != "DELETE") return;
  auto removed = store_.remove_at_revision(record.name, record.revision);
  if (!removed.ok()) {
    std::fprintf(stderr, "emberd: schedule %s: %s\n", record.name.c_str(),
                 removed.error().message().c_str());
  } else if (*removed) {
    std::fprintf(stderr,
                 "emberd: schedule %s completed and was deleted (ActionAfterCompletion DELETE)\n",
                 record.name.c_str());
  }
}

}  // namespace ember::host
