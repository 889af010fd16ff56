// EventInvokeConfigStore: each function's asynchronous invocation settings (Lambda's
// EventInvokeConfig) in SQLite; one per function, since only $LATEST exists.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"
#include "host/store/sqlite.h"

namespace ember::host {

struct EventInvokeConfig {
  std::string function_name;
  std::optional<int> max_retries;             // MaximumRetryAttempts, 0-2 (unset: 2)
  std::optional<int64_t> max_event_age_s;     // MaximumEventAgeInSeconds, 60-21600 (unset: 21600)
  std::string on_success;                     // DestinationConfig.OnSuccess.Destination, "" none
  std::string on_failure;                     // DestinationConfig.OnFailure.Destination, "" none
  int64_t last_modified_ms = 0;

  bool operator==(const EventInvokeConfig&) const = default;
};

// Thread-safe. ENOENT: the function has no config.
class EventInvokeConfigStore {
 public:
  // Opens the table in the database at path (emberd: <state>/functions.db, beside the
  // functions table, through a connection of its own).
  static Result<EventInvokeConfigStore> open(const std::string& path);
  EventInvokeConfigStore(EventInvokeConfigStore&& other) noexcept : db_(std::move(other.db_)) {}

  Result<EventInvokeConfig> get(const std::string& function_name);
  // Creates or replaces.
  Status put(const EventInvokeConfig& config);
  // ENOENT when there was none.
  Status remove(const std::string& function_name);

 private:
  explicit EventInvokeConfigStore(Database db) : db_(std::move(db)) {}
  std::mutex mu_;
  Database db_;
};

}  // namespace ember::host
