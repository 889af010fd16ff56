// ScheduleStore: EventBridge Scheduler's schedules in SQLite (a table in <state>/functions.db).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "host/store/sqlite.h"

namespace ember::host {

// A schedule's Target (Lambda functions only), with RetryPolicy's defaults filled in.
struct ScheduleTarget {
  std::string arn;  // arn:aws:lambda:REGION:ACCOUNT:function:NAME
  std::string role_arn;
  std::string input;  // "" when none was given (TargetInput has at least 1 character)
  int max_retry_attempts = 185;
  int64_t max_event_age_s = 86400;
  std::string dead_letter_arn;  // "" when none

  bool operator==(const ScheduleTarget&) const = default;
};

// Every field of a schedule as CreateSchedule or UpdateSchedule gave it, plus the store's
// bookkeeping. Times are Unix seconds.
struct ScheduleRecord {
  std::string name;
  std::string group = "default";
  std::string expression;  // rate(...), cron(...) or at(...)
  std::string timezone;    // ScheduleExpressionTimezone; "" when none was given (UTC)
  std::optional<int64_t> start_s;
  std::optional<int64_t> end_s;
  std::string state = "ENABLED";  // or DISABLED
  std::string description;
  std::string flexible_mode = "OFF";  // or FLEXIBLE
  int flexible_window_min = 0;        // MaximumWindowInMinutes, FLEXIBLE only
  ScheduleTarget target;
  std::string action_after_completion = "NONE";  // or DELETE
  std::string client_token;
  std::string kms_key_arn;

  int64_t created_s = 0;
  int64_t modified_s = 0;
  // The scheduled time of the last firing the runner handled (fired, or skipped as too old):
  // firings at or before it are never owed again. 0 before the first.
  int64_t last_fired_s = 0;
  // Bumped by every update(), so the runner never deletes a schedule changed since it read it.
  int64_t revision = 0;

  bool operator==(const ScheduleRecord&) const = default;
};

// Thread-safe. Errors carry errno-style codes the API maps to Scheduler's: EEXIST (the name
// is taken), ENOENT (no such schedule); any other error is the database failing. Shares its
// database file with FunctionStore but only ever touches its own tables (and never
// PRAGMA user_version, which is FunctionStore's).
class ScheduleStore {
 public:
  // Opens or creates the database file and the schedules tables.
  static Result<ScheduleStore> open(const std::string& path);

  ScheduleStore(ScheduleStore&& other) noexcept
      : db_(std::move(other.db_)), default_group_created_s_(other.default_group_created_s_) {}
  ScheduleStore(const ScheduleStore&) = delete;
  ScheduleStore& operator=(const ScheduleStore&) = delete;

  // Adds a schedule as given (created_s, modified_s, last_fired_s and revision included);
  // EEXIST when one with its name exists.
  Status create(const ScheduleRecord& record);
  // ENOENT when there is none.
  Result<ScheduleRecord> get(const std::string& name);
  // Up to `limit` schedules in name order after `after` (empty: from the first) whose names
  // start with `prefix` and whose state is `state` (empty: any).
  Result<std::vector<ScheduleRecord>> list(const std::string& after, const std::string& prefix,
                                           const std::string& state, size_t limit);
  // Every ENABLED schedule, for the runner.
  Result<std::vector<ScheduleRecord>> enabled();
  // Replaces everything the user gave (UpdateSchedule replaces the whole schedule) and
  // modified_s; created_s and last_fired_s stay; revision goes up by one. ENOENT when there is
  // none. Returns the stored record.
  Result<ScheduleRecord> update(const ScheduleRecord& record);
  // Removes a schedule and returns what it was; ENOENT when there is none.
  Result<ScheduleRecord> remove(const std::string& name);
  // Removes it only if it is still at `revision`; false when it was changed or is gone.
  Result<bool> remove_at_revision(const std::string& name, int64_t revision);
  // Records the runner's progress; a schedule deleted meanwhile is fine.
  Status set_last_fired(const std::string& name, int64_t last_fired_s);

  // When the default schedule group was created (the first open of this database).
  int64_t default_group_created_s() const { return default_group_created_s_; }

 private:
  ScheduleStore(Database db, int64_t group_created_s)
      : db_(std::move(db)), default_group_created_s_(group_created_s) {}
  Result<std::vector<ScheduleRecord>> query(Statement& statement);

  std::mutex mu_;
  Database db_;
  int64_t default_group_created_s_ = 0;
};

}  // namespace ember::host
