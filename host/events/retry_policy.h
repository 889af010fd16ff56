// Lambda's retry policy for asynchronous events: what happens after each try.
#pragma once

#include <cstdint>

#include "host/store/event_queue.h"

namespace ember::host {

struct RetryRules {
  int max_retries = 2;              // MaximumRetryAttempts: function errors retried, 0-2
  int64_t max_event_age_s = 21600;  // MaximumEventAgeInSeconds
  // The wait before the first retry after a function error; the second waits twice this
  // (Lambda: 1 and 2 minutes; emberd --async-retry-delay-seconds).
  int64_t function_error_delay_ms = 60'000;
  // A try that never reached the function (no capacity, Ember failing) is not an attempt:
  // it is tried again after a backoff doubling from first_backoff_ms up to max_backoff_ms.
  int64_t first_backoff_ms = 1'000;
  int64_t max_backoff_ms = 300'000;
};

enum class TryOutcome {
  kSucceeded,      // the function returned a result
  kFunctionError,  // handler error, timeout, out of memory, runtime crash: an attempt
  kNotRun,         // capacity shortage or an Ember error: not an attempt
};

struct RetryDecision {
  bool finished = false;       // true: the event leaves the queue with `fate`
  EventFate fate = EventFate::kSucceeded;
  int64_t not_before_ms = 0;   // otherwise: try again then
  int64_t backoff_ms = 0;      // the backoff to remember for the next shortage
};

// True when the event is older than the rules allow and must not be tried again.
bool event_expired(const QueuedEvent& event, const RetryRules& rules, int64_t now_ms);

// The decision after one try of `event`, whose `attempts` already counts this try when it
// reached the function. A retry that could only happen after the event's maximum age ends
// the event at once as EventAgeExceeded instead of waiting for nothing.
RetryDecision decide_after_try(const QueuedEvent& event, TryOutcome outcome,
                               const RetryRules& rules, int64_t now_ms);

}  // namespace ember::host
