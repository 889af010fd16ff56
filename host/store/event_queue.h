// EventQueue: accepted asynchronous events, on disk in SQLite (<state>/events.db) before
// anyone is told they were accepted; the async dispatcher's list of work.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "host/store/sqlite.h"

namespace ember::host {

// An event as accepted: a client's Event invoke, a destination's record, a schedule firing.
struct NewEvent {
  std::string request_id;     // Lambda's request id, kept through every attempt
  std::string function_name;  // the function to run
  std::string payload;        // the event, JSON
  int64_t accepted_ms = 0;    // Unix ms; the event's age counts from here
  // Per-event overrides of the function's EventInvokeConfig (a schedule's RetryPolicy and
  // DeadLetterConfig); -1 or "": the function's own.
  int max_retries = -1;
  int64_t max_event_age_s = -1;
  std::string dead_letter_arn;
  std::string source;  // "invoke", "destination", "schedule:<name>": for logs and history

  bool operator==(const NewEvent&) const = default;
};

// An event waiting in the queue or being worked on.
struct QueuedEvent : NewEvent {
  int64_t id = 0;             // the queue's key
  int attempts = 0;           // runs that reached the function so far
  int64_t not_before_ms = 0;  // Unix ms: not to be claimed before
  int64_t backoff_ms = 0;     // the last capacity backoff (0: none yet)
  std::string last_error;     // the last function error's payload, for the failure record
  // When the last run's handler started (Unix ms, 0: never ran); not stored while the event
  // waits, only in its history entry.
  int64_t handler_started_ms = 0;
};

// How an event left the queue.
enum class EventFate { kSucceeded, kRetriesExhausted, kEventAgeExceeded, kDropped };
const char* event_fate_name(EventFate fate);  // "Success", "RetriesExhausted", ...

struct EventQueueStats {
  size_t depth = 0;           // events in the queue, in flight included
  int64_t oldest_age_ms = 0;  // age of the oldest one (0 when empty)
  size_t in_flight = 0;       // claimed and being run
  size_t waiting_retry = 0;   // waiting for a retry after an attempt or a capacity backoff
};

// A finished event, for `ember queue` (the newest kept per function).
struct EventHistoryEntry {
  std::string request_id;
  EventFate fate = EventFate::kSucceeded;
  int attempts = 0;
  int64_t accepted_ms = 0;
  int64_t finished_ms = 0;
  std::string detail;              // the error type, or why it was dropped
  int64_t handler_started_ms = 0;  // the last run's handler start (0: never ran)

  bool operator==(const EventHistoryEntry&) const = default;
};

// Thread-safe. The database runs in WAL mode with synchronous=FULL: an event enqueue()
// returned for survives SIGKILL and power loss. Events claimed but not finished when the
// process died are simply waiting again after open(): nothing is lost or stuck.
class EventQueue {
 public:
  static constexpr size_t kHistoryPerFunction = 50;

  // Opens or creates the database and its schema.
  static Result<std::unique_ptr<EventQueue>> open(const std::string& path);
  ~EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  // Stores the event and returns its id once it is committed to disk. Callers arriving while
  // a commit is under way share the next one (group commit), so concurrent enqueues cost one
  // fsync per group, not one each. not_before_ms is accepted_ms.
  Result<int64_t> enqueue(const NewEvent& event);

  // Marks up to `limit` events due at now_ms (not_before_ms <= now_ms) and not in flight as
  // in flight, and returns them, the longest-waiting first.
  Result<std::vector<QueuedEvent>> claim(int64_t now_ms, size_t limit);
  // Puts a claimed event back to wait with its new attempts, not_before_ms, backoff_ms and
  // last_error; it is no longer in flight.
  Status release(const QueuedEvent& event);
  // Removes a claimed event for good and records its fate (history keeps the newest
  // kHistoryPerFunction per function). An id no longer stored (dropped meanwhile) is fine.
  Status finish(const QueuedEvent& event, EventFate fate, const std::string& detail,
                int64_t now_ms);
  // Removes every event of a function not in flight (its deletion); returns how many.
  Result<size_t> drop_function(const std::string& function_name);

  // Blocks until an event may have become due: an enqueue or release since the last call,
  // the earliest waiting event's not_before_ms, or `longest`, whichever comes first.
  void wait_for_work(std::chrono::milliseconds longest);
  // Wakes every wait_for_work() (shutdown).
  void wake_all();

  Result<EventQueueStats> stats(const std::string& function_name, int64_t now_ms);
  // The newest first.
  Result<std::vector<EventHistoryEntry>> history(const std::string& function_name,
                                                 size_t limit);

  // Commits enqueue() has run so far: fewer than the events when callers shared them.
  size_t commits() const;

 private:
  struct Impl;
  explicit EventQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember::host
