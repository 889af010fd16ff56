// Lambda's retry policy: attempts for function errors, backoff for shortages, the age limit.
#include "host/events/retry_policy.h"

#include <algorithm>

namespace ember::host {
namespace {

RetryDecision finished(EventFate fate) { return {.finished = true, .fate = fate}; }

RetryDecision retry_at(const QueuedEvent& event, const RetryRules& rules, int64_t at_ms,
                       int64_t backoff_ms) {
  if (at_ms - event.accepted_ms > rules.max_event_age_s * 1000) {
    return finished(EventFate::kEventAgeExceeded);
  }
  return {.finished = false, .not_before_ms = at_ms, .backoff_ms = backoff_ms};
}

}  // namespace

bool event_expired(const QueuedEvent& event, const RetryRules& rules, int64_t now_ms) {
  return now_ms - event.accepted_ms > rules.max_event_age_s * 1000;
}

RetryDecision decide_after_try(const QueuedEvent& event, TryOutcome outcome,
                               const RetryRules& rules, int64_t now_ms) {
  switch (outcome) {
    case TryOutcome::kSucceeded:
      return finished(EventFate::kSucceeded);
    case TryOutcome::kFunctionError: {
      if (event.attempts > rules.max_retries) return finished(EventFate::kRetriesExhausted);
      // The first retry waits one delay, the second two.
      const int64_t delay = rules.function_error_delay_ms * std::max(1, event.attempts);
      return retry_at(event, rules, now_ms + delay, 0);
    }
    case TryOutcome::kNotRun: {
      const int64_t backoff =
          event.backoff_ms == 0 ? rules.first_backoff_ms
                                : std::min(event.backoff_ms * 2, rules.max_backoff_ms);
      return retry_at(event, rules, now_ms + backoff, backoff);
    }
  }
  return finished(EventFate::kSucceeded);  // unreachable
}

}  // namespace ember::host
