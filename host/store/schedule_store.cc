// ScheduleStore: schema, row mapping (the Target as JSON text) and each operation's statement.
#include "host/store/schedule_store.h"

#include <cerrno>
#include <chrono>
#include <limits>
#include <nlohmann/json.hpp>

namespace ember::host {
namespace {

// Statement binds no NULLs, so an absent StartDate or EndDate is stored as this.
constexpr int64_t kNoDate = std::numeric_limits<int64_t>::min();

// Only CREATE ... IF NOT EXISTS: the file is FunctionStore's too, which owns user_version.
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS schedules (
  name TEXT PRIMARY KEY NOT NULL,
  group_name TEXT NOT NULL,
  expression TEXT NOT NULL,
  timezone TEXT NOT NULL,
  start_s INTEGER NOT NULL,
  end_s INTEGER NOT NULL,
  state TEXT NOT NULL,
  description TEXT NOT NULL,
  flexible_mode TEXT NOT NULL,
  flexible_window_min INTEGER NOT NULL,
  target TEXT NOT NULL,         -- the Target as GetSchedule answers it, JSON
  action_after_completion TEXT NOT NULL,
  client_token TEXT NOT NULL,
  kms_key_arn TEXT NOT NULL,
  created_s INTEGER NOT NULL,
  modified_s INTEGER NOT NULL,
  last_fired_s INTEGER NOT NULL,
  revision INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS schedule_groups (
  name TEXT PRIMARY KEY NOT NULL,
  created_s INTEGER NOT NULL
);
)sql";

// The columns in the order row_to_record() reads and bind_record() writes them.
constexpr char kColumns[] =
    "name, group_name, expression, timezone, start_s, end_s, state, description, "
    "flexible_mode, flexible_window_min, target, action_after_completion, client_token, "
    "kms_key_arn, created_s, modified_s, last_fired_s, revision";
constexpr char kPlaceholders[] =
    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18";

std::string target_to_text(const ScheduleTarget& t) {
  nlohmann::json json = {{"Arn", t.arn},
                         {"RoleArn", t.role_arn},
                         {"RetryPolicy",
                          {{"MaximumRetryAttempts", t.max_retry_attempts},
                           {"MaximumEventAgeInSeconds", t.max_event_age_s}}}};
  if (!t.input.empty()) json["Input"] = t.input;
  if (!t.dead_letter_arn.empty()) json["DeadLetterConfig"] = {{"Arn", t.dead_letter_arn}};
  return json.dump();
}

// Written by target_to_text() only; a damaged row keeps the defaults rather than crashing.
ScheduleTarget target_from_text(const std::string& text) {
  ScheduleTarget t;
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) return t;
  t.arn = json.value("Arn", "");
  t.role_arn = json.value("RoleArn", "");
  t.input = json.value("Input", "");
  if (const auto retry = json.find("RetryPolicy"); retry != json.end() && retry->is_object()) {
    t.max_retry_attempts = retry->value("MaximumRetryAttempts", t.max_retry_attempts);
    t.max_event_age_s = retry->value("MaximumEventAgeInSeconds", t.max_event_age_s);
  }
  if (const auto dlq = json.find("DeadLetterConfig"); dlq != json.end() && dlq->is_object()) {
    t.dead_letter_arn = dlq->value("Arn", "");
  }
  return t;
}

std::optional<int64_t> date_from_column(int64_t value) {
  if (value == kNoDate) return std::nullopt;
  return value;
}

ScheduleRecord row_to_record(const Statement& row) {
  ScheduleRecord r;
  r.name = row.text(0);
  r.group = row.text(1);
  r.expression = row.text(2);
  r.timezone = row.text(3);
  r.start_s = date_from_column(row.integer(4));
  r.end_s = date_from_column(row.integer(5));
  r.state = row.text(6);
  r.description = row.text(7);
  r.flexible_mode = row.text(8);
  r.flexible_window_min = static_cast<int>(row.integer(9));
  r.target = target_from_text(row.text(10));
  r.action_after_completion = row.text(11);
  r.client_token = row.text(12);
  r.kms_key_arn = row.text(13);
  r.created_s = row.integer(14);
  r.modified_s = row.integer(15);
  r.last_fired_s = row.integer(16);
  r.revision = row.integer(17);
  return r;
}

// Binds what the user gives (everything up to kms_key_arn) to parameters 1..14.
void bind_user_fields(Statement& statement, const ScheduleRecord& r) {
  statement.bind(1, r.name)
      .bind(2, r.group)
      .bind(3, r.expression)
      .bind(4, r.timezone)
      .bind(5, r.start_s.value_or(kNoDate))
      .bind(6, r.end_s.value_or(kNoDate))
      .bind(7, r.state)
      .bind(8, r.description)
      .bind(9, r.flexible_mode)
      .bind(10, int64_t{r.flexible_window_min})
      .bind(11, target_to_text(r.target))
      .bind(12, r.action_after_completion)
      .bind(13, r.client_token)
      .bind(14, r.kms_key_arn);
}

// Binds all the record's columns to parameters 1..18 in kColumns order.
void bind_record(Statement& statement, const ScheduleRecord& r) {
  bind_user_fields(statement, r);
  statement.bind(15, r.created_s)
      .bind(16, r.modified_s)
      .bind(17, r.last_fired_s)
      .bind(18, r.revision);
}

Error not_found(const std::string& name) { return Error{ENOENT, "find schedule", name}; }

int64_t unix_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<ScheduleStore> ScheduleStore::open(const std::string& path) {
  EMBER_TRY(Database db, Database::open(path));
  EMBER_CHECK(db.exec(kSchema));
  EMBER_TRY(Statement add_group, db.prepare("INSERT OR IGNORE INTO schedule_groups (name, "
                                            "created_s) VALUES ('default', ?1)"));
  add_group.bind(1, unix_now_s());
  EMBER_CHECK(add_group.run());
  EMBER_TRY(Statement group,
            db.prepare("SELECT created_s FROM schedule_groups WHERE name = 'default'"));
  EMBER_TRY(bool has_row, group.step());
  const int64_t group_created_s = has_row ? group.integer(0) : 0;
  return ScheduleStore(std::move(db), group_created_s);
}

Status ScheduleStore::create(const ScheduleRecord& record) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement insert, db_.prepare(std::string("INSERT OR IGNORE INTO schedules (") +
                                          kColumns + ") VALUES (" + kPlaceholders + ")"));
  bind_record(insert, record);
  EMBER_CHECK(insert.run());
  if (db_.changes() == 0) return Error{EEXIST, "create schedule", record.name};
  return {};
}

Result<std::vector<ScheduleRecord>> ScheduleStore::query(Statement& statement) {
  std::vector<ScheduleRecord> records;
  while (true) {
    EMBER_TRY(bool row, statement.step());
    if (!row) return records;
    records.push_back(row_to_record(statement));
  }
}

Result<ScheduleRecord> ScheduleStore::get(const std::string& name) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement select,
            db_.prepare(std::string("SELECT ") + kColumns + " FROM schedules WHERE name = ?1"));
  select.bind(1, name);
  EMBER_TRY(auto records, query(select));
  if (records.empty()) return not_found(name);
  return std::move(records.front());
}

Result<std::vector<ScheduleRecord>> ScheduleStore::list(const std::string& after,
                                                        const std::string& prefix,
                                                        const std::string& state, size_t limit) {
  std::lock_guard lock(mu_);
  // substr() rather than LIKE: '_' is a wildcard to LIKE and a common character in names.
  EMBER_TRY(Statement select,
            db_.prepare(std::string("SELECT ") + kColumns +
                        " FROM schedules WHERE name > ?1 AND substr(name, 1, length(?2)) = ?2 "
                        "AND (?3 = '' OR state = ?3) ORDER BY name LIMIT ?4"));
  select.bind(1, after).bind(2, prefix).bind(3, state).bind(4, static_cast<int64_t>(limit));
  return query(select);
}

Result<std::vector<ScheduleRecord>> ScheduleStore::enabled() {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement select, db_.prepare(std::string("SELECT ") + kColumns +
                                          " FROM schedules WHERE state = 'ENABLED' ORDER BY name"));
  return query(select);
}

Result<ScheduleRecord> ScheduleStore::update(const ScheduleRecord& record) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement replace,
            db_.prepare(std::string("UPDATE schedules SET group_name = ?2, expression = ?3, "
                                    "timezone = ?4, start_s = ?5, end_s = ?6, state = ?7, "
                                    "description = ?8, flexible_mode = ?9, "
                                    "flexible_window_min = ?10, target = ?11, "
                                    "action_after_completion = ?12, client_token = ?13, "
                                    "kms_key_arn = ?14, modified_s = ?15, "
                                    "revision = revision + 1 WHERE name = ?1 RETURNING ") +
                        kColumns));
  bind_user_fields(replace, record);
  replace.bind(15, record.modified_s);
  EMBER_TRY(auto records, query(replace));
  if (records.empty()) return not_found(record.name);
  return std::move(records.front());
}

Result<ScheduleRecord> ScheduleStore::remove(const std::string& name) {
  std::lock_guard lock(mu_);
  EMBER_TRY(
      Statement remove,
      db_.prepare(std::string("DELETE FROM schedules WHERE name = ?1 RETURNING ") + kColumns));
  remove.bind(1, name);
  EMBER_TRY(auto records, query(remove));
  if (records.empty()) return not_found(name);
  return std::move(records.front());
}

Result<bool> ScheduleStore::remove_at_revision(const std::string& name, int64_t revision) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement remove,
            db_.prepare("DELETE FROM schedules WHERE name = ?1 AND revision = ?2"));
  remove.bind(1, name).bind(2, revision);
  EMBER_CHECK(remove.run());
  return db_.changes() > 0;
}

Status ScheduleStore::set_last_fired(const std::string& name, int64_t last_fired_s) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement set, db_.prepare("UPDATE schedules SET last_fired_s = ?2 WHERE name = ?1"));
  set.bind(1, name).bind(2, last_fired_s);
  return set.run();
}

}  // namespace ember::host
