// EventSourceMappingStore: the event_source_mappings table.
#include "host/store/event_source_mapping_store.h"

#include <cerrno>
#include <nlohmann/json.hpp>

namespace ember::host {
namespace {

// AUTOINCREMENT: a sequence is never reused, so a list marker never skips a newer mapping.
// UNIQUE (function_name, event_source_arn): Lambda allows one mapping per function and source.
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS event_source_mappings (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid TEXT NOT NULL UNIQUE,
  function_name TEXT NOT NULL,
  event_source_arn TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  state TEXT NOT NULL,
  state_transition_reason TEXT NOT NULL,
  last_processing_result TEXT NOT NULL,
  batch_size INTEGER NOT NULL,
  max_batching_window_s INTEGER NOT NULL,
  starting_position TEXT NOT NULL,          -- '' for queues
  starting_position_timestamp_ms INTEGER NOT NULL,
  report_batch_item_failures INTEGER NOT NULL,
  max_retry_attempts INTEGER NOT NULL,
  max_record_age_s INTEGER NOT NULL,
  bisect_batch_on_function_error INTEGER NOT NULL,
  on_failure TEXT NOT NULL,                 -- '' when none
  max_concurrency INTEGER NOT NULL,         -- 0 when none
  filter_patterns TEXT NOT NULL,            -- a JSON array of pattern strings
  last_modified_ms INTEGER NOT NULL,
  UNIQUE (function_name, event_source_arn)
);
CREATE INDEX IF NOT EXISTS event_source_mappings_by_source
  ON event_source_mappings (event_source_arn);
)sql";

// Every column but sequence, in the order of parameters 1..19; sequence is read as column 19.
constexpr char kColumns[] =
    "uuid, function_name, event_source_arn, enabled, state, state_transition_reason, "
    "last_processing_result, batch_size, max_batching_window_s, starting_position, "
    "starting_position_timestamp_ms, report_batch_item_failures, max_retry_attempts, "
    "max_record_age_s, bisect_batch_on_function_error, on_failure, max_concurrency, "
    "filter_patterns, last_modified_ms";
constexpr char kPlaceholders[] =
    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19";

void bind_mapping(Statement& statement, const EventSourceMapping& m) {
  statement.bind(1, m.uuid)
      .bind(2, m.function_name)
      .bind(3, m.event_source_arn)
      .bind(4, int64_t{m.enabled})
      .bind(5, m.state)
      .bind(6, m.state_transition_reason)
      .bind(7, m.last_processing_result)
      .bind(8, int64_t{m.batch_size})
      .bind(9, int64_t{m.max_batching_window_s})
      .bind(10, m.starting_position)
      .bind(11, m.starting_position_timestamp_ms)
      .bind(12, int64_t{m.report_batch_item_failures})
      .bind(13, int64_t{m.max_retry_attempts})
      .bind(14, int64_t{m.max_record_age_s})
      .bind(15, int64_t{m.bisect_batch_on_function_error})
      .bind(16, m.on_failure)
      .bind(17, int64_t{m.max_concurrency})
      .bind(18, nlohmann::json(m.filter_patterns).dump())
      .bind(19, m.last_modified_ms);
}

EventSourceMapping row_to_mapping(const Statement& row) {
  EventSourceMapping m;
  m.uuid = row.text(0);
  m.function_name = row.text(1);
  m.event_source_arn = row.text(2);
  // The API stores only ARNs that parse; a row edited by hand to something else keeps an empty
  // server, which no poller serves.
  if (auto source = parse_redis_arn(m.event_source_arn); source.ok()) m.source = *source;
  m.enabled = row.integer(3) != 0;
  m.state = row.text(4);
  m.state_transition_reason = row.text(5);
  m.last_processing_result = row.text(6);
  m.batch_size = static_cast<int>(row.integer(7));
  m.max_batching_window_s = static_cast<int>(row.integer(8));
  m.starting_position = row.text(9);
  m.starting_position_timestamp_ms = row.integer(10);
  m.report_batch_item_failures = row.integer(11) != 0;
  m.max_retry_attempts = static_cast<int>(row.integer(12));
  m.max_record_age_s = static_cast<int>(row.integer(13));
  m.bisect_batch_on_function_error = row.integer(14) != 0;
  m.on_failure = row.text(15);
  m.max_concurrency = static_cast<int>(row.integer(16));
  const auto patterns = nlohmann::json::parse(row.text(17), nullptr, false);
  if (patterns.is_array()) {
    for (const auto& pattern : patterns) {
      if (pattern.is_string()) m.filter_patterns.push_back(pattern.get<std::string>());
    }
  }
  m.last_modified_ms = row.integer(18);
  m.sequence = row.integer(19);
  return m;
}

Error not_found(const std::string& uuid) {
  return Error{ENOENT, "find event source mapping", uuid};
}

}  // namespace

Result<EventSourceMappingStore> EventSourceMappingStore::open(const std::string& path) {
  EMBER_TRY(Database db, Database::open(path));
  EMBER_CHECK(db.exec(kSchema));
  return EventSourceMappingStore(std::move(db));
}

Result<std::vector<EventSourceMapping>> EventSourceMappingStore::query(Statement& statement) {
  std::vector<EventSourceMapping> mappings;
  while (true) {
    EMBER_TRY(bool row, statement.step());
    if (!row) return mappings;
    mappings.push_back(row_to_mapping(statement));
  }
}

Result<bool> EventSourceMappingStore::exists(const std::string& uuid) {
  EMBER_TRY(Statement select, db_.prepare("SELECT 1 FROM event_source_mappings WHERE uuid = ?1"));
  select.bind(1, uuid);
  return select.step();
}

Result<EventSourceMapping> EventSourceMappingStore::create(const EventSourceMapping& mapping) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement insert,
            db_.prepare(std::string("INSERT OR IGNORE INTO event_source_mappings (") + kColumns +
                        ") VALUES (" + kPlaceholders + ")"));
  bind_mapping(insert, mapping);
  EMBER_CHECK(insert.run());
  if (db_.changes() == 0) {
    return Error{EEXIST, "create event source mapping",
                 mapping.function_name + " and " + mapping.event_source_arn};
  }
  EMBER_TRY(Statement select, db_.prepare(std::string("SELECT ") + kColumns +
                                          ", sequence FROM event_source_mappings WHERE uuid = ?1"));
  select.bind(1, mapping.uuid);
  EMBER_TRY(auto created, query(select));
  if (created.empty()) return not_found(mapping.uuid);
  return std::move(created.front());
}

Result<EventSourceMapping> EventSourceMappingStore::get(const std::string& uuid) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement select, db_.prepare(std::string("SELECT ") + kColumns +
                                          ", sequence FROM event_source_mappings WHERE uuid = ?1"));
  select.bind(1, uuid);
  EMBER_TRY(auto mappings, query(select));
  if (mappings.empty()) return not_found(uuid);
  return std::move(mappings.front());
}

Result<std::vector<EventSourceMapping>> EventSourceMappingStore::list(
    const EventSourceMappingQuery& q) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement select,
            db_.prepare(std::string("SELECT ") + kColumns +
                        ", sequence FROM event_source_mappings WHERE sequence > ?1 "
                        "AND (?2 = '' OR function_name = ?2) "
                        "AND (?3 = '' OR event_source_arn = ?3) ORDER BY sequence LIMIT ?4"));
  select.bind(1, q.after_sequence)
      .bind(2, q.function_name)
      .bind(3, q.event_source_arn)
      .bind(4, static_cast<int64_t>(q.limit));
  return query(select);
}

Status EventSourceMappingStore::update(const EventSourceMapping& mapping) {
  std::lock_guard lock(mu_);
  // OR IGNORE: a change of function onto a pair another mapping has leaves no row changed.
  EMBER_TRY(Statement update,
            db_.prepare(std::string("UPDATE OR IGNORE event_source_mappings SET (") + kColumns +
                        ") = (" + kPlaceholders + ") WHERE uuid = ?1"));
  bind_mapping(update, mapping);
  EMBER_CHECK(update.run());
  if (db_.changes() > 0) return {};
  EMBER_TRY(bool found, exists(mapping.uuid));
  if (!found) return not_found(mapping.uuid);
  return Error{EEXIST, "update event source mapping",
               mapping.function_name + " and " + mapping.event_source_arn};
}

Result<EventSourceMapping> EventSourceMappingStore::remove(const std::string& uuid) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement select,
            db_.prepare(std::string("DELETE FROM event_source_mappings WHERE uuid = ?1 "
                                    "RETURNING ") +
                        kColumns + ", sequence"));
  select.bind(1, uuid);
  EMBER_TRY(auto removed, query(select));
  if (removed.empty()) return not_found(uuid);
  return std::move(removed.front());
}

Result<size_t> EventSourceMappingStore::remove_function(const std::string& function_name) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement remove,
            db_.prepare("DELETE FROM event_source_mappings WHERE function_name = ?1"));
  remove.bind(1, function_name);
  EMBER_CHECK(remove.run());
  return static_cast<size_t>(db_.changes());
}

Status EventSourceMappingStore::set_status(const std::string& uuid,
                                           const EventSourceMappingStatus& status) {
  std::lock_guard lock(mu_);
  // Each member comes with a flag: 0 (unset) keeps the column as it is.
  EMBER_TRY(Statement update, db_.prepare("UPDATE event_source_mappings SET "
                                          "state = CASE WHEN ?2 THEN ?3 ELSE state END, "
                                          "state_transition_reason = CASE WHEN ?4 THEN ?5 "
                                          "ELSE state_transition_reason END, "
                                          "last_processing_result = CASE WHEN ?6 THEN ?7 "
                                          "ELSE last_processing_result END WHERE uuid = ?1"));
  update.bind(1, uuid)
      .bind(2, int64_t{status.state.has_value()})
      .bind(3, status.state.value_or(""))
      .bind(4, int64_t{status.state_transition_reason.has_value()})
      .bind(5, status.state_transition_reason.value_or(""))
      .bind(6, int64_t{status.last_processing_result.has_value()})
      .bind(7, status.last_processing_result.value_or(""));
  EMBER_CHECK(update.run());
  if (db_.changes() == 0) return not_found(uuid);
  return {};
}

}  // namespace ember::host
