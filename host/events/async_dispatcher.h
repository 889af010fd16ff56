// AsyncDispatcher: runs queued asynchronous events through the same invoker as synchronous
// calls, with Lambda's retries, destinations and dead-letter targets.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "host/api/invocation_runner.h"
#include "host/events/redis_stream_writer.h"
#include "host/events/retry_policy.h"
#include "host/logs/function_logs.h"
#include "host/store/event_invoke_config_store.h"
#include "host/store/event_queue.h"
#include "host/store/function_store.h"

namespace ember::host {

struct AsyncDispatcherOptions {
  size_t workers = 4;  // events run at once (each still waits for the invoker's capacity)
  int64_t function_error_delay_ms = 60'000;  // --async-retry-delay-seconds
  // Unix ms now; tests pass a fake clock.
  std::function<int64_t()> now_ms;
  // Appends to Redis streams named as destinations or dead-letter targets; null: none.
  RedisStreamWriter* redis = nullptr;
};

// The stores and the runner outlive the dispatcher. Workers start in the constructor and are
// joined in the destructor (after stop()).
class AsyncDispatcher {
 public:
  AsyncDispatcher(EventQueue& queue, FunctionStore& functions, EventInvokeConfigStore& configs,
                  InvocationRunner& runner, FunctionLogs& logs, AsyncDispatcherOptions options);
  ~AsyncDispatcher();
  AsyncDispatcher(const AsyncDispatcher&) = delete;
  AsyncDispatcher& operator=(const AsyncDispatcher&) = delete;

  // Workers finish the event they run and stop; events not finished stay queued.
  void stop();

  // One pass for tests: claims and runs the events due now on the calling thread; returns
  // how many ran. (With workers = 0 nothing else runs them.)
  size_t run_due();

 private:
  void work();
  void process(QueuedEvent event);
  // An event whose target is a Redis stream (a destination's record or a dead letter).
  void append_to_stream(QueuedEvent event);
  RetryRules rules_for(const QueuedEvent& event, const FunctionRecord& function) const;
  // Sends what a destination or dead-letter target gets, as a new queued event: for a
  // function, an event it runs; for a Redis stream, an event whose function_name is the
  // stream's ARN, appended by append_to_stream() with retries.
  void deliver(const std::string& target_arn, const std::string& payload,
               const QueuedEvent& about, const char* why);
  void finish_for_good(const QueuedEvent& event, const FunctionRecord& function, EventFate fate,
                       const std::string& response, const std::string& function_error);
  // Runs a queue write (release, finish) until it succeeds or the dispatcher stops.
  void persist(const QueuedEvent& event, const std::function<Status()>& write);
  int64_t now() const { return options_.now_ms(); }

  EventQueue& queue_;
  FunctionStore& functions_;
  EventInvokeConfigStore& configs_;
  InvocationRunner& runner_;
  FunctionLogs& logs_;
  const AsyncDispatcherOptions options_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
};

}  // namespace ember::host
