// EventSourceMappingStore: Lambda's event source mappings (Redis stream and queue sources) in
// SQLite, a table in <state>/functions.db.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "host/events/redis_arn.h"
#include "host/store/sqlite.h"

namespace ember::host {

// Every field of a mapping as CreateEventSourceMapping and UpdateEventSourceMapping leave it, with
// the defaults of its kind filled in, plus the poller's status fields.
struct EventSourceMapping {
  std::string uuid;
  std::string function_name;  // the unqualified name; the API answers its FunctionArn
  // As given; `source` is its parsed form. A stream source (arn:ember:redis:::SERVER/stream/KEY)
  // is read like Kinesis, a queue source (.../queue/KEY) like SQS.
  std::string event_source_arn;
  RedisArn source;
  bool enabled = true;
  // Creating, Enabling, Enabled, Disabling, Disabled, Updating or Deleting.
  std::string state = "Creating";
  std::string state_transition_reason = "USER_INITIATED";
  std::string last_processing_result = "No records processed";
  int batch_size = 100;  // streams 100, queues 10 unless given
  int max_batching_window_s = 0;
  std::string starting_position;  // TRIM_HORIZON, LATEST or AT_TIMESTAMP; "" for queues
  int64_t starting_position_timestamp_ms = 0;   // AT_TIMESTAMP only
  bool report_batch_item_failures = false;      // FunctionResponseTypes ["ReportBatchItemFailures"]
  int max_retry_attempts = -1;                  // streams: -1 retries until the record expires
  int max_record_age_s = -1;                    // streams: -1 never expires
  bool bisect_batch_on_function_error = false;  // streams
  std::string on_failure;                       // DestinationConfig.OnFailure.Destination, "" none
  int max_concurrency = 0;                      // queues: ScalingConfig.MaximumConcurrency, 0 none
  std::vector<std::string> filter_patterns;     // FilterCriteria.Filters[].Pattern (JSON text)
  int64_t last_modified_ms = 0;
  // Set by the store: increases with each create, the order of list() and its paging.
  int64_t sequence = 0;

  bool is_queue() const { return source.queue; }
};

// What a poller reports of a mapping; members left unset keep their value.
struct EventSourceMappingStatus {
  std::optional<std::string> state;
  std::optional<std::string> state_transition_reason;
  std::optional<std::string> last_processing_result;
};

// Which mappings list() answers: empty filters match every mapping.
struct EventSourceMappingQuery {
  std::string function_name;
  std::string event_source_arn;
  int64_t after_sequence = 0;  // only mappings with a greater sequence
  size_t limit = 100;
};

// Thread-safe. Errors carry errno-style codes: ENOENT (no mapping with that UUID), EEXIST (the
// UUID, or the pair of function and source, is taken); any other error is the database failing.
// Shares its database file with FunctionStore but only touches its own table (and never PRAGMA
// user_version, which is FunctionStore's).
class EventSourceMappingStore {
 public:
  static Result<EventSourceMappingStore> open(const std::string& path);
  EventSourceMappingStore(EventSourceMappingStore&& other) noexcept : db_(std::move(other.db_)) {}
  EventSourceMappingStore(const EventSourceMappingStore&) = delete;
  EventSourceMappingStore& operator=(const EventSourceMappingStore&) = delete;

  // Adds a mapping (its `sequence` is ignored) and returns it as stored.
  Result<EventSourceMapping> create(const EventSourceMapping& mapping);
  Result<EventSourceMapping> get(const std::string& uuid);
  // In creation order.
  Result<std::vector<EventSourceMapping>> list(const EventSourceMappingQuery& query);
  // Replaces every field of the mapping with mapping.uuid (but its sequence).
  Status update(const EventSourceMapping& mapping);
  // Removes a mapping and returns what it was.
  Result<EventSourceMapping> remove(const std::string& uuid);
  // Removes a function's mappings; how many there were.
  Result<size_t> remove_function(const std::string& function_name);
  // The poller's report: State, StateTransitionReason and LastProcessingResult. Leaves LastModified
  // alone, which says when the user last changed the mapping.
  Status set_status(const std::string& uuid, const EventSourceMappingStatus& status);

 private:
  explicit EventSourceMappingStore(Database db) : db_(std::move(db)) {}
  Result<std::vector<EventSourceMapping>> query(Statement& statement);
  Result<bool> exists(const std::string& uuid);

  std::mutex mu_;
  Database db_;
};

}  // namespace ember::host
