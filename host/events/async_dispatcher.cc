// AsyncDispatcher: worker threads claim due events, run them and apply the retry policy.
#include "host/events/async_dispatcher.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/utc_time.h"
#include "host/api/function_validation.h"
#include "host/api/uuid.h"
#include "host/events/invocation_record.h"
#include "host/events/redis_arn.h"

namespace ember::host {
namespace {

// How long an idle worker sleeps before it looks at the queue again anyway.
constexpr auto kIdlePoll = std::chrono::seconds(1);

// The errorType of a function error payload, "" when it has none.
std::string error_type_of(const std::string& payload) {
  const auto error = nlohmann::json::parse(payload, nullptr, false);
  if (error.is_object() && error.contains("errorType") && error["errorType"].is_string()) {
    return error["errorType"].get<std::string>();
  }
  return "";
}

}  // namespace

AsyncDispatcher::AsyncDispatcher(EventQueue& queue, FunctionStore& functions,
                                 EventInvokeConfigStore& configs, InvocationRunner& runner,
                                 FunctionLogs& logs, AsyncDispatcherOptions options)
    : queue_(queue),
      functions_(functions),
      configs_(configs),
      runner_(runner),
      logs_(logs),
      options_([&] {
        if (!options.now_ms) options.now_ms = unix_now_ms;
        return std::move(options);
      }()) {
  for (size_t i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
}

AsyncDispatcher::~AsyncDispatcher() {
  stop();
  for (std::thread& worker : workers_) worker.join();
}

void AsyncDispatcher::stop() {
  stopping_ = true;
  queue_.wake_all();
}

void AsyncDispatcher::work() {
  while (!stopping_) {
    auto claimed = queue_.claim(now(), 1);
    if (!claimed.ok()) {
      std::fprintf(stderr, "emberd: async queue: %s\n", claimed.error().message().c_str());
      queue_.wait_for_work(kIdlePoll);
      continue;
    }
    if (claimed->empty()) {
      queue_.wait_for_work(kIdlePoll);
      continue;
    }
    process(std::move(claimed->front()));
  }
}

size_t AsyncDispatcher::run_due() {
  auto claimed = queue_.claim(now(), SIZE_MAX);
  if (!claimed.ok()) return 0;
  for (QueuedEvent& event : claimed.value()) process(std::move(event));
  return claimed->size();
}

RetryRules AsyncDispatcher::rules_for(const QueuedEvent& event,
                                      const FunctionRecord& function) const {
  RetryRules rules;
  rules.function_error_delay_ms = options_.function_error_delay_ms;
  if (auto config = configs_.get(function.name); config.ok()) {
    rules.max_retries = config->max_retries.value_or(rules.max_retries);
    rules.max_event_age_s = config->max_event_age_s.value_or(rules.max_event_age_s);
  }
  if (event.max_retries >= 0) rules.max_retries = event.max_retries;
  if (event.max_event_age_s >= 0) rules.max_event_age_s = event.max_event_age_s;
  return rules;
}

void AsyncDispatcher::process(QueuedEvent event) {
  if (looks_like_redis_arn(event.function_name)) return append_to_stream(std::move(event));
  auto function = functions_.get(event.function_name);
  if (!function.ok() && function.error().code == ENOENT) {
    std::fprintf(stderr, "emberd: async event %s dropped: function %s no longer exists\n",
                 event.request_id.c_str(), event.function_name.c_str());
    persist(event, [&] { return queue_.finish(event, EventFate::kDropped, "function not found",
                                              now()); });
    return;
  }
  TryOutcome outcome = TryOutcome::kNotRun;
  std::string response, function_error;
  RetryRules rules;
  if (function.ok()) {
    rules = rules_for(event, function.value());
    if (event_expired(event, rules, now())) {
      finish_for_good(event, function.value(), EventFate::kEventAgeExceeded, event.last_error,
                      event.last_error.empty() ? "" : "Unhandled");
      return;
    }
    InvocationInput input{.request_id = event.request_id, .payload = event.payload};
    auto result = runner_.run(function.value(), input);
    if (result.ok()) {
      ++event.attempts;
      // The handler's start, as seen from here: its end less the time it ran.
      event.handler_started_ms = now() - static_cast<int64_t>(result->outcome.timing.handler_ms);
      response = std::move(result->outcome.payload);
      function_error = result->outcome.function_error;
      outcome = function_error.empty() ? TryOutcome::kSucceeded : TryOutcome::kFunctionError;
      if (!function_error.empty()) event.last_error = response;
    }
  } else {
    std::fprintf(stderr, "emberd: async event %s: %s\n", event.request_id.c_str(),
                 function.error().message().c_str());
  }

  const RetryDecision decision = decide_after_try(event, outcome, rules, now());
  if (!decision.finished) {
    event.not_before_ms = decision.not_before_ms;
    event.backoff_ms = decision.backoff_ms;
    persist(event, [&] { return queue_.release(event); });
    return;
  }
  if (decision.fate != EventFate::kSucceeded || !function.ok()) {
    if (function.ok()) finish_for_good(event, function.value(), decision.fate, response,
                                       function_error);
    return;
  }
  if (auto config = configs_.get(event.function_name); config.ok() && !config->on_success.empty()) {
    deliver(config->on_success,
            invocation_record({.event = event,
                               .function_arn = function_arn(runner_.region(), event.function_name),
                               .fate = EventFate::kSucceeded,
                               .response = response,
                               .now_ms = now()}),
            event, "destination");
  }
  persist(event, [&] { return queue_.finish(event, EventFate::kSucceeded, "", now()); });
}

void AsyncDispatcher::append_to_stream(QueuedEvent event) {
  const RetryRules rules;  // Lambda's defaults: retried for up to 6 hours
  if (event_expired(event, rules, now())) {
    std::fprintf(stderr, "emberd: %s for event %s not delivered to %s within %lld s: dropped\n",
                 event.source.c_str(), event.request_id.c_str(), event.function_name.c_str(),
                 static_cast<long long>(rules.max_event_age_s));
    persist(event, [&] { return queue_.finish(event, EventFate::kEventAgeExceeded, "", now()); });
    return;
  }
  Status appended = options_.redis != nullptr
                        ? options_.redis->append(event.function_name, event.payload)
                        : Status(make_error("append to " + event.function_name,
                                            "emberd has no Redis servers (--redis)"));
  if (appended.ok()) {
    persist(event, [&] { return queue_.finish(event, EventFate::kSucceeded, "", now()); });
    return;
  }
  if (event.backoff_ms == 0) {
    std::fprintf(stderr, "emberd: %s for event %s: %s; retrying with backoff\n",
                 event.source.c_str(), event.request_id.c_str(),
                 appended.error().message().c_str());
  }
  const RetryDecision decision = decide_after_try(event, TryOutcome::kNotRun, rules, now());
  event.not_before_ms = decision.not_before_ms;
  event.backoff_ms = decision.backoff_ms;
  if (decision.finished) {
    persist(event, [&] { return queue_.finish(event, decision.fate, "", now()); });
  } else {
    persist(event, [&] { return queue_.release(event); });
  }
}

void AsyncDispatcher::finish_for_good(const QueuedEvent& event, const FunctionRecord& function,
                                      EventFate fate, const std::string& response,
                                      const std::string& function_error) {
  std::string on_failure;
  if (auto config = configs_.get(function.name); config.ok()) on_failure = config->on_failure;
  if (!on_failure.empty()) {
    deliver(on_failure,
            invocation_record({.event = event,
                               .function_arn = function_arn(runner_.region(), function.name),
                               .fate = fate,
                               .response = response,
                               .function_error = function_error,
                               .now_ms = now()}),
            event, "destination");
  }
  const std::string dead_letter =
      event.dead_letter_arn.empty() ? function.dead_letter_arn : event.dead_letter_arn;
  if (!dead_letter.empty()) deliver(dead_letter, event.payload, event, "dead-letter");

  std::string error = error_type_of(event.last_error);
  const std::string line = "ASYNC RequestId: " + event.request_id + "\tCondition: " +
                           event_fate_name(fate) + "\tAttempts: " +
                           std::to_string(event.attempts) +
                           (error.empty() ? "" : "\tError Type: " + error) +
                           (dead_letter.empty() ? "" : "\tDead Letter: " + dead_letter) + "\n";
  if (auto appended = logs_.append(function.name, line); !appended.ok()) {
    std::fprintf(stderr, "emberd: %s\n", appended.error().message().c_str());
  }
  persist(event, [&] { return queue_.finish(event, fate, error, now()); });
}

void AsyncDispatcher::persist(const QueuedEvent& event, const std::function<Status()>& write) {
  // The event stays claimed meanwhile: it neither runs again nor is lost (a restart finds it
  // waiting in the database as it was).
  for (int tries = 1;; ++tries) {
    Status written = write();
    if (written.ok()) return;
    if (tries == 1 || tries % 60 == 0) {
      std::fprintf(stderr, "emberd: async event %s: %s; trying again every second\n",
                   event.request_id.c_str(), written.error().message().c_str());
    }
    if (stopping_) return;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

void AsyncDispatcher::deliver(const std::string& target_arn, const std::string& payload,
                              const QueuedEvent& about, const char* why) {
  if (looks_like_redis_arn(target_arn)) {
    NewEvent record{.request_id = about.request_id,
                    .function_name = target_arn,
                    .payload = payload,
                    .accepted_ms = now(),
                    .source = why};
    if (auto queued = queue_.enqueue(record); !queued.ok()) {
      std::fprintf(stderr, "emberd: async event %s: %s to %s lost: %s\n",
                   about.request_id.c_str(), why, target_arn.c_str(),
                   queued.error().message().c_str());
    }
    return;
  }
  auto target = resolve_function_name(target_arn, "", runner_.region());
  if (!target.ok()) {
    std::fprintf(stderr, "emberd: async event %s: %s target %s: %s\n", about.request_id.c_str(),
                 why, target_arn.c_str(), target.error().message.c_str());
    return;
  }
  NewEvent record{.request_id = random_uuid(),
                  .function_name = target.value(),
                  .payload = payload,
                  .accepted_ms = now(),
                  .source = why};
  if (auto queued = queue_.enqueue(record); !queued.ok()) {
    std::fprintf(stderr, "emberd: async event %s: %s to %s lost: %s\n", about.request_id.c_str(),
                 why, target_arn.c_str(), queued.error().message().c_str());
  }
}

}  // namespace ember::host
