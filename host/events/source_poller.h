// What a poller of one event source mapping needs: its settings, its dependencies, and the
// figures it keeps for `ember mappings`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "host/api/invocation_runner.h"
#include "host/events/filter_pattern.h"
#include "host/events/redis_arn.h"
#include "host/events/redis_client.h"
#include "host/store/event_queue.h"
#include "host/store/function_store.h"

namespace ember::host {

// One mapping as its poller runs it (read from the mapping store).
struct MappingSettings {
  std::string uuid;
  std::string function_name;
  std::string source_arn;
  RedisArn source;
  size_t batch_size = 100;
  int64_t batching_window_ms = 0;
  std::string starting_position = "LATEST";  // TRIM_HORIZON, LATEST, AT_TIMESTAMP
  int64_t starting_timestamp_ms = 0;         // AT_TIMESTAMP
  bool report_item_failures = false;
  int64_t max_retries = -1;     // -1: until the record expires (streams), no limit (queues)
  int64_t max_record_age_s = -1;  // streams; -1: none
  bool bisect = false;            // streams
  std::string on_failure;         // a function's or a Redis stream's ARN, "" none
  size_t max_concurrency = 5;     // queues: batches at once
  std::vector<FilterPattern> filters;
  int64_t visibility_timeout_ms = 0;  // queues: when an unacknowledged record is received again
};

struct PollerDeps {
  FunctionStore& functions;
  InvocationRunner& runner;
  EventQueue& events;  // OnFailure deliveries are queued here, durably, before the ack
  RedisServer server;
  std::string region;
  // Records the mapping's LastProcessingResult ("OK", "PROBLEM: ...") when it changes.
  std::function<void(const std::string& result)> report;
};

// Updated by the poller, read by the status route.
struct PollerFigures {
  std::atomic<int64_t> records{0};           // records handed to the function, all time
  std::atomic<int64_t> batches_in_flight{0};
  std::atomic<int64_t> lag{-1};              // entries not yet acknowledged (-1: unknown)
  std::atomic<int64_t> started_ms{0};        // for records per second
};

// A mapping's LastProcessingResult as its poller finds it: passed on, and logged when it is
// a problem, only when it changes. Thread-safe.
class ResultReporter {
 public:
  ResultReporter(std::string uuid, std::function<void(const std::string&)> sink)
      : uuid_(std::move(uuid)), sink_(std::move(sink)) {}
  void report(const std::string& result) {
    {
      std::lock_guard lock(mu_);
      if (result == last_) return;
      last_ = result;
    }
    if (result != "OK") {
      std::fprintf(stderr, "emberd: event source mapping %s: %s\n", uuid_.c_str(),
                   result.c_str());
    }
    sink_(result);
  }

 private:
  const std::string uuid_;
  const std::function<void(const std::string&)> sink_;
  std::mutex mu_;
  std::string last_;
};

// The consumer group every emberd uses for a mapping ("ember-<uuid>"), so several hosts
// can share one source later.
inline std::string mapping_group(const std::string& uuid) { return "ember-" + uuid; }

// Backoff for reconnecting and for tries that never reached the function.
class Backoff {
 public:
  std::chrono::milliseconds next() {
    current_ = current_.count() == 0 ? std::chrono::milliseconds(500)
                                     : std::min(current_ * 2, std::chrono::milliseconds(30'000));
    return current_;
  }
  void reset() { current_ = std::chrono::milliseconds(0); }

 private:
  std::chrono::milliseconds current_{0};
};

}  // namespace ember::host
