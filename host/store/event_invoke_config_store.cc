// EventInvokeConfigStore: the event_invoke_configs table (NULL columns: settings not given).
#include "host/store/event_invoke_config_store.h"

#include <cerrno>

namespace ember::host {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS event_invoke_configs (
  function_name TEXT PRIMARY KEY NOT NULL,
  max_retries INTEGER,
  max_event_age_s INTEGER,
  on_success TEXT NOT NULL,
  on_failure TEXT NOT NULL,
  last_modified_ms INTEGER NOT NULL
);
)sql";

}  // namespace

Result<EventInvokeConfigStore> EventInvokeConfigStore::open(const std::string& path) {
  EMBER_TRY(Database db, Database::open(path));
  EMBER_CHECK(db.exec(kSchema));
  return EventInvokeConfigStore(std::move(db));
}

Result<EventInvokeConfig> EventInvokeConfigStore::get(const std::string& function_name) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement select,
            db_.prepare("SELECT COALESCE(max_retries, -1), COALESCE(max_event_age_s, -1), "
                        "on_success, on_failure, last_modified_ms FROM event_invoke_configs "
                        "WHERE function_name = ?1"));
  select.bind(1, function_name);
  EMBER_TRY(bool found, select.step());
  if (!found) return Error{ENOENT, "find event invoke config", function_name};
  EventInvokeConfig config;
  config.function_name = function_name;
  if (select.integer(0) >= 0) config.max_retries = static_cast<int>(select.integer(0));
  if (select.integer(1) >= 0) config.max_event_age_s = select.integer(1);
  config.on_success = select.text(2);
  config.on_failure = select.text(3);
  config.last_modified_ms = select.integer(4);
  return config;
}

Status EventInvokeConfigStore::put(const EventInvokeConfig& config) {
  std::lock_guard lock(mu_);
  // NULLIF keeps "not given" as NULL, so Get answers only what was set, as Lambda does.
  EMBER_TRY(Statement upsert,
            db_.prepare("INSERT OR REPLACE INTO event_invoke_configs (function_name, "
                        "max_retries, max_event_age_s, on_success, on_failure, "
                        "last_modified_ms) VALUES (?1, NULLIF(?2, -1), NULLIF(?3, -1), ?4, ?5, "
                        "?6)"));
  upsert.bind(1, config.function_name)
      .bind(2, int64_t{config.max_retries.value_or(-1)})
      .bind(3, config.max_event_age_s.value_or(-1))
      .bind(4, config.on_success)
      .bind(5, config.on_failure)
      .bind(6, config.last_modified_ms);
  return upsert.run();
}

Status EventInvokeConfigStore::remove(const std::string& function_name) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement remove,
            db_.prepare("DELETE FROM event_invoke_configs WHERE function_name = ?1"));
  remove.bind(1, function_name);
  EMBER_CHECK(remove.run());
  if (db_.changes() == 0) return Error{ENOENT, "find event invoke config", function_name};
  return {};
}

}  // namespace ember::host
