// Tests for the retry policy against a fake clock: attempts, delays, backoff, event age.
#include "host/events/retry_policy.h"

#include <gtest/gtest.h>

namespace ember::host {
namespace {

constexpr int64_t kStart = 1'700'000'000'000;  // Unix ms the event was accepted

QueuedEvent event_with(int attempts, int64_t backoff_ms = 0) {
  QueuedEvent event;
  event.accepted_ms = kStart;
  event.attempts = attempts;
  event.backoff_ms = backoff_ms;
  return event;
}

TEST(RetryPolicy, SuccessFinishesTheEvent) {
  const auto decision = decide_after_try(event_with(1), TryOutcome::kSucceeded, {}, kStart);
  EXPECT_TRUE(decision.finished);
  EXPECT_EQ(decision.fate, EventFate::kSucceeded);
}

TEST(RetryPolicy, FunctionErrorsRetryAfterOneThenTwoDelays) {
  RetryRules rules;
  rules.function_error_delay_ms = 60'000;
  auto first = decide_after_try(event_with(1), TryOutcome::kFunctionError, rules, kStart + 5);
  ASSERT_FALSE(first.finished);
  EXPECT_EQ(first.not_before_ms, kStart + 5 + 60'000);
  auto second =
      decide_after_try(event_with(2), TryOutcome::kFunctionError, rules, kStart + 70'000);
  ASSERT_FALSE(second.finished);
  EXPECT_EQ(second.not_before_ms, kStart + 70'000 + 120'000);
  auto third =
      decide_after_try(event_with(3), TryOutcome::kFunctionError, rules, kStart + 200'000);
  EXPECT_TRUE(third.finished);
  EXPECT_EQ(third.fate, EventFate::kRetriesExhausted);
}

TEST(RetryPolicy, MaximumRetryAttemptsBoundsTheAttempts) {
  RetryRules none{.max_retries = 0};
  EXPECT_EQ(decide_after_try(event_with(1), TryOutcome::kFunctionError, none, kStart).fate,
            EventFate::kRetriesExhausted);
  RetryRules one{.max_retries = 1, .function_error_delay_ms = 2'000};
  EXPECT_FALSE(decide_after_try(event_with(1), TryOutcome::kFunctionError, one, kStart).finished);
  EXPECT_TRUE(decide_after_try(event_with(2), TryOutcome::kFunctionError, one, kStart).finished);
}

TEST(RetryPolicy, ShortagesBackOffExponentiallyUpToFiveMinutes) {
  RetryRules rules;
  int64_t backoff = 0;
  std::vector<int64_t> waits;
  for (int i = 0; i < 12; ++i) {
    auto decision = decide_after_try(event_with(0, backoff), TryOutcome::kNotRun, rules, kStart);
    ASSERT_FALSE(decision.finished);
    waits.push_back(decision.not_before_ms - kStart);
    backoff = decision.backoff_ms;
  }
  EXPECT_EQ(waits[0], 1'000);
  EXPECT_EQ(waits[1], 2'000);
  EXPECT_EQ(waits[2], 4'000);
  EXPECT_EQ(waits[8], 256'000);
  EXPECT_EQ(waits[9], 300'000);
  EXPECT_EQ(waits[11], 300'000);
}

TEST(RetryPolicy, AShortageIsNotAnAttempt) {
  // Even with no retries allowed, a try that never ran is tried again.
  RetryRules rules{.max_retries = 0};
  EXPECT_FALSE(decide_after_try(event_with(0), TryOutcome::kNotRun, rules, kStart).finished);
}

TEST(RetryPolicy, EventAgeEndsRetriesAndShortages) {
  RetryRules rules{.max_event_age_s = 60, .function_error_delay_ms = 60'000};
  auto late = decide_after_try(event_with(1), TryOutcome::kFunctionError, rules, kStart + 1'000);
  EXPECT_TRUE(late.finished);
  EXPECT_EQ(late.fate, EventFate::kEventAgeExceeded);
  auto short_wait =
      decide_after_try(event_with(0, 32'000), TryOutcome::kNotRun, rules, kStart + 1'000);
  EXPECT_TRUE(short_wait.finished);  // 64 s more would pass the 60 s age
  EXPECT_EQ(short_wait.fate, EventFate::kEventAgeExceeded);
  EXPECT_FALSE(event_expired(event_with(0), rules, kStart + 60'000));
  EXPECT_TRUE(event_expired(event_with(0), rules, kStart + 60'001));
}

}  // namespace
}  // namespace ember::host
