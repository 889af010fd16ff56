// Tests for AsyncDispatcher with a fake invoker and a fake clock: attempts, retries,
// shortages, event age, destinations, dead-letter targets and deleted functions.
#include "host/events/async_dispatcher.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "host/api/fake_invoker.h"
#include "host/store/test_zip.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr int64_t kStart = 1'780'000'000'000;  // Unix ms
constexpr int64_t kDelay = 5'000;              // --async-retry-delay-seconds 5

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-dispatch-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    functions_.emplace(std::move(FunctionStore::open(dir_ + "/functions.db")).value());
    code_.emplace(std::move(CodeStore::open(dir_ + "/code")).value());
    logs_.emplace(dir_ + "/logs");
    queue_ = std::move(EventQueue::open(dir_ + "/events.db")).value();
    configs_.emplace(std::move(EventInvokeConfigStore::open(dir_ + "/functions.db")).value());
    runner_.emplace(*functions_, *code_, *logs_, invoker_, "us-east-1");
    dispatcher_.emplace(*queue_, *functions_, *configs_, *runner_, *logs_,
                        AsyncDispatcherOptions{.workers = 0,
                                               .function_error_delay_ms = kDelay,
                                               .now_ms = [this] { return now_; }});
    for (const char* name : {"source", "on-success", "on-failure", "dead-letter"}) add(name);
  }
  void TearDown() override {
    dispatcher_.reset();
    std::filesystem::remove_all(dir_);
  }

  void add(const std::string& name, const std::string& dead_letter = "") {
    FunctionRecord record{.name = name, .runtime = "python3.11", .handler = "app.handler"};
    record.dead_letter_arn = dead_letter;
    record.revision_id = "r1";
    auto code = code_->put(hello_zip(name));
    ASSERT_TRUE(code.ok()) << code.error().message();
    record.code_sha256_hex = code->sha256_hex;
    ASSERT_TRUE(functions_->create(record).ok());
  }
  static std::string arn(const std::string& name) {
    return "arn:aws:lambda:us-east-1:000000000000:function:" + name;
  }
  void configure(std::optional<int> retries, std::optional<int64_t> age = std::nullopt) {
    EventInvokeConfig config{.function_name = "source",
                             .max_retries = retries,
                             .max_event_age_s = age,
                             .on_success = arn("on-success"),
                             .on_failure = arn("on-failure")};
    ASSERT_TRUE(configs_->put(config).ok());
  }
  std::string enqueue(const std::string& payload = R"({"order":7})") {
    NewEvent event{.request_id = "req-" + std::to_string(++sent_),
                   .function_name = "source",
                   .payload = payload,
                   .accepted_ms = now_,
                   .source = "invoke"};
    EXPECT_TRUE(queue_->enqueue(event).ok());
    return event.request_id;
  }
  // The events queued for `function` (claimed and put back), oldest first.
  std::vector<QueuedEvent> queued_for(const std::string& function) {
    std::vector<QueuedEvent> found;
    auto all = queue_->claim(INT64_MAX, 1000);
    EXPECT_TRUE(all.ok());
    for (const QueuedEvent& event : all.value()) {
      if (event.function_name == function) found.push_back(event);
      EXPECT_TRUE(queue_->release(event).ok());
    }
    return found;
  }
  // How many times the invoker ran `function`.
  size_t runs_of(const std::string& function) {
    size_t runs = 0;
    for (const InvokeRequest& request : invoker_.seen()) runs += request.fn.name == function;
    return runs;
  }
  std::string log_of(const std::string& function) {
    auto chunk = logs_->read(function, 0);
    return chunk.ok() ? chunk->data : "";
  }

  std::string dir_;
  int64_t now_ = kStart;
  int sent_ = 0;
  FakeInvoker invoker_;
  std::optional<FunctionStore> functions_;
  std::optional<CodeStore> code_;
  std::optional<FunctionLogs> logs_;
  std::unique_ptr<EventQueue> queue_;
  std::optional<EventInvokeConfigStore> configs_;
  std::optional<InvocationRunner> runner_;
  std::optional<AsyncDispatcher> dispatcher_;
};

TEST_F(DispatcherTest, SuccessSendsTheRecordToOnSuccess) {
  configure(std::nullopt);
  const std::string id = enqueue();
  EXPECT_EQ(dispatcher_->run_due(), 1u);
  EXPECT_EQ(runs_of("source"), 1u);
  EXPECT_NE(log_of("source").find("START RequestId: " + id), std::string::npos);
  const auto delivered = queued_for("on-success");
  ASSERT_EQ(delivered.size(), 1u);
  const json record = json::parse(delivered[0].payload);
  EXPECT_EQ(record["version"], "1.0");
  EXPECT_EQ(record["requestContext"]["requestId"], id);
  EXPECT_EQ(record["requestContext"]["condition"], "Success");
  EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 1);
  EXPECT_EQ(record["requestContext"]["functionArn"], arn("source") + ":$LATEST");
  EXPECT_EQ(record["requestPayload"]["order"], 7);
  EXPECT_EQ(record["responsePayload"]["order"], 7);  // the fake echoes
  EXPECT_EQ(record["responseContext"]["statusCode"], 200);
  EXPECT_FALSE(record["responseContext"].contains("functionError"));
  auto history = queue_->history("source", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ(history->front().fate, EventFate::kSucceeded);
  EXPECT_TRUE(queued_for("on-failure").empty());
}

TEST_F(DispatcherTest, FunctionErrorsAreRetriedThenGoToOnFailureAndTheDeadLetterTarget) {
  ASSERT_TRUE(functions_->remove("source").ok());
  add("source", arn("dead-letter"));
  configure(1);
  invoker_.time_out = true;
  const std::string id = enqueue();
  EXPECT_EQ(dispatcher_->run_due(), 1u);
  EXPECT_EQ(dispatcher_->run_due(), 0u);  // the retry waits kDelay
  now_ += kDelay - 1;
  EXPECT_EQ(dispatcher_->run_due(), 0u);
  now_ += 1;
  EXPECT_EQ(dispatcher_->run_due(), 1u);
  EXPECT_EQ(runs_of("source"), 2u);
  now_ += 10 * kDelay;
  EXPECT_EQ(dispatcher_->run_due(), 2u);  // only the two deliveries: no third attempt
  EXPECT_EQ(runs_of("source"), 2u);

  EXPECT_EQ(runs_of("on-failure"), 1u);
  json record;
  for (const InvokeRequest& request : invoker_.seen()) {
    if (request.fn.name == "on-failure") record = json::parse(request.payload);
  }
  EXPECT_EQ(record["requestContext"]["condition"], "RetriesExhausted");
  EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 2);
  EXPECT_EQ(record["responseContext"]["functionError"], "Unhandled");
  EXPECT_EQ(record["responsePayload"]["errorType"], "Sandbox.Timedout");
  EXPECT_EQ(runs_of("dead-letter"), 1u);
  for (const InvokeRequest& request : invoker_.seen()) {
    if (request.fn.name == "dead-letter") {
      EXPECT_EQ(request.payload, R"({"order":7})");
    }
  }
  const std::string log = log_of("source");
  EXPECT_NE(log.find("ASYNC RequestId: " + id + "\tCondition: RetriesExhausted\tAttempts: 2"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("Dead Letter: " + arn("dead-letter")), std::string::npos);
}

TEST_F(DispatcherTest, DefaultsRetryTwice) {
  invoker_.time_out = true;
  enqueue();
  for (int i = 0; i < 6; ++i) {
    dispatcher_->run_due();
    now_ += 2 * kDelay;
  }
  EXPECT_EQ(runs_of("source"), 3u);  // the first attempt and two retries
  EXPECT_EQ(queue_->history("source", 1)->front().fate, EventFate::kRetriesExhausted);
}

TEST_F(DispatcherTest, AShortageIsNotAnAttemptAndBacksOff) {
  configure(0);
  invoker_.throttle = true;
  enqueue();
  EXPECT_EQ(dispatcher_->run_due(), 1u);
  auto waiting = queued_for("source");
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].attempts, 0);
  EXPECT_EQ(waiting[0].not_before_ms, now_ + 1'000);
  now_ += 1'000;
  EXPECT_EQ(dispatcher_->run_due(), 1u);
  EXPECT_EQ(queued_for("source")[0].not_before_ms, now_ + 2'000);
  invoker_.throttle = false;
  now_ += 2'000;
  EXPECT_EQ(dispatcher_->run_due(), 1u);
  EXPECT_EQ(queue_->history("source", 1)->front().fate, EventFate::kSucceeded);
  EXPECT_EQ(queue_->history("source", 1)->front().attempts, 1);
}

TEST_F(DispatcherTest, AnEventPastItsAgeGoesToOnFailureWithoutRunning) {
  configure(2, 60);
  invoker_.throttle = true;
  enqueue();
  for (int i = 0; i < 10; ++i) {
    dispatcher_->run_due();
    now_ += 20'000;
  }
  invoker_.throttle = false;
  dispatcher_->run_due();
  EXPECT_EQ(queue_->history("source", 1)->front().fate, EventFate::kEventAgeExceeded);
  const auto delivered = queued_for("on-failure");
  ASSERT_EQ(delivered.size(), 1u);
  const json record = json::parse(delivered[0].payload);
  EXPECT_EQ(record["requestContext"]["condition"], "EventAgeExceeded");
  EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 0);
  EXPECT_FALSE(record.contains("responsePayload"));
}

TEST_F(DispatcherTest, EventsOfADeletedFunctionAreDropped) {
  enqueue();
  ASSERT_TRUE(functions_->remove("source").ok());
  EXPECT_EQ(dispatcher_->run_due(), 1u);
  EXPECT_EQ(runs_of("source"), 0u);
  EXPECT_EQ(queue_->history("source", 1)->front().fate, EventFate::kDropped);
  EXPECT_TRUE(queued_for("source").empty());
}

TEST_F(DispatcherTest, PerEventOverridesWin) {
  configure(2);
  invoker_.time_out = true;
  NewEvent event{.request_id = "scheduled",
                 .function_name = "source",
                 .payload = "{}",
                 .accepted_ms = now_,
                 .max_retries = 0,
                 .dead_letter_arn = arn("dead-letter"),
                 .source = "schedule:s"};
  ASSERT_TRUE(queue_->enqueue(event).ok());
  dispatcher_->run_due();
  EXPECT_EQ(runs_of("source"), 1u);
  EXPECT_EQ(queued_for("dead-letter").size(), 1u);
}

}  // namespace
}  // namespace ember::host
