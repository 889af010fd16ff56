// Tests for the stream and queue pollers against a real redis-server and a scripted
// invoker: order, batching, partial failures, bisecting, OnFailure, parallel queue batches,
// redelivery after the visibility timeout, filters, and a server that is down.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "host/events/async_dispatcher.h"
#include "host/events/queue_poller.h"
#include "host/events/redis_stream_writer.h"
#include "host/store/test_zip.h"
#include "host/events/redis_test_server.h"
#include "host/events/stream_poller.h"
#include "host/store/encoding.h"

namespace ember::host {
namespace {

using nlohmann::json;

// An invoker whose answer a test scripts; records every batch it saw and the concurrency.
class ScriptedInvoker : public Invoker {
 public:
  std::function<InvokeOutcome(const json& event)> answer = [](const json&) {
    return InvokeOutcome{.payload = "null"};
  };
  std::chrono::milliseconds sleep{0};

  Result<InvokeOutcome> invoke(const InvokeRequest& request) override {
    const int now_running = ++running_;
    {
      std::lock_guard lock(mu_);
      max_running_ = std::max(max_running_, now_running);
    }
    std::this_thread::sleep_for(sleep);
    const json event = json::parse(request.payload);
    InvokeOutcome outcome;
    {
      std::lock_guard lock(mu_);
      batches_.push_back(event);
      outcome = answer(event);
    }
    --running_;
    return outcome;
  }
  void retire(const std::string&) override {}
  void shutdown() override {}

  std::vector<json> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  int max_running() {
    std::lock_guard lock(mu_);
    return max_running_;
  }

 private:
  std::mutex mu_;
  std::vector<json> batches_;
  std::atomic<int> running_{0};
  int max_running_ = 0;
};

// The payload of a record of either shape.
std::string payload_of(const json& record) {
  if (record.contains("body")) return record["body"];
  const std::string data = record["kinesis"]["data"];
  auto decoded = base64_decode(data);
  return decoded ? std::string(decoded->begin(), decoded->end()) : "";
}

class PollerTest : public RedisServerTest {
 protected:
  void SetUp() override {
    RedisServerTest::SetUp();
    if (IsSkipped()) return;
    char tmpl[] = "/tmp/ember-poller-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    state_ = tmpl;
    functions_.emplace(std::move(FunctionStore::open(state_ + "/functions.db")).value());
    code_.emplace(std::move(CodeStore::open(state_ + "/code")).value());
    logs_.emplace(state_ + "/logs");
    events_ = std::move(EventQueue::open(state_ + "/events.db")).value();
    runner_.emplace(*functions_, *code_, *logs_, invoker_, "us-east-1");
    FunctionRecord record{.name = "consumer", .runtime = "python3.11", .handler = "app.h"};
    auto code = code_->put(hello_zip());
    ASSERT_TRUE(code.ok()) << code.error().message();
    record.code_sha256_hex = code->sha256_hex;
    ASSERT_TRUE(functions_->create(record).ok());
    auto connection = RedisConnection::connect(tcp_server(), std::chrono::seconds(2),
                                               std::chrono::seconds(5));
    ASSERT_TRUE(connection.ok());
    redis_ = std::make_unique<RedisConnection>(std::move(connection).value());
  }
  void TearDown() override {
    redis_.reset();
    if (!state_.empty()) std::filesystem::remove_all(state_);
    RedisServerTest::TearDown();
  }

  MappingSettings settings(bool queue) {
    MappingSettings s;
    s.uuid = "m-1";
    s.function_name = "consumer";
    s.source = RedisArn{.server = "test", .queue = queue, .key = "events"};
    s.source_arn = s.source.to_string();
    s.starting_position = "TRIM_HORIZON";
    return s;
  }
  PollerDeps deps() {
    return PollerDeps{.functions = *functions_,
                      .runner = *runner_,
                      .events = *events_,
                      .server = tcp_server(),
                      .region = "us-east-1",
                      .report = [this](const std::string& result) {
                        std::lock_guard lock(reports_mu_);
                        reports_.push_back(result);
                      }};
  }
  void add(int count, int first = 0) {
    for (int i = first; i < first + count; ++i) {
      ASSERT_TRUE(xadd(*redis_, "events", {{"data", json{{"n", i}}.dump()}}).ok());
    }
  }
  // The n of every record the function saw, in order.
  std::vector<int> seen() {
    std::vector<int> ns;
    for (const json& batch : invoker_.batches()) {
      for (const json& record : batch["Records"]) ns.push_back(json::parse(payload_of(record))["n"]);
    }
    return ns;
  }
  static bool eventually(const std::function<bool()>& check, int seconds = 20) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (check()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return check();
  }
  std::vector<QueuedEvent> on_failure_events() {
    auto claimed = events_->claim(INT64_MAX, 100);
    return claimed.ok() ? claimed.value() : std::vector<QueuedEvent>{};
  }
  bool reported(const std::string& prefix) {
    std::lock_guard lock(reports_mu_);
    for (const std::string& r : reports_) {
      if (r.rfind(prefix, 0) == 0) return true;
    }
    return false;
  }

  std::string state_;
  ScriptedInvoker invoker_;
  std::optional<FunctionStore> functions_;
  std::optional<CodeStore> code_;
  std::optional<FunctionLogs> logs_;
  std::unique_ptr<EventQueue> events_;
  std::optional<InvocationRunner> runner_;
  std::unique_ptr<RedisConnection> redis_;
  std::mutex reports_mu_;
  std::vector<std::string> reports_;
};

TEST_F(PollerTest, StreamRecordsRunOnceInOrderInFullBatches) {
  add(250);
  MappingSettings s = settings(false);
  s.batch_size = 100;
  s.batching_window_ms = 300;
  StreamPoller poller(s, deps());
  ASSERT_TRUE(eventually([&] { return seen().size() >= 250; }));
  std::vector<int> expected(250);
  for (int i = 0; i < 250; ++i) expected[i] = i;
  EXPECT_EQ(seen(), expected);
  EXPECT_EQ(invoker_.batches().size(), 3u);  // 100, 100, 50
  const json first = invoker_.batches()[0]["Records"][0];
  EXPECT_EQ(first["eventSourceARN"], "arn:ember:redis:::test/stream/events");
  EXPECT_TRUE(first["kinesis"]["sequenceNumber"].is_string());
  EXPECT_TRUE(eventually([&] { return poller.figures().lag.load() == 0; }));
  EXPECT_TRUE(reported("OK"));
}

TEST_F(PollerTest, ReportedFailuresAreRetriedFromTheFirstOne) {
  add(6);
  MappingSettings s = settings(false);
  s.batch_size = 10;
  s.report_item_failures = true;
  bool failed_once = false;
  invoker_.answer = [&](const json& event) {
    InvokeOutcome outcome{.payload = R"({"batchItemFailures":[]})"};
    if (!failed_once && event["Records"].size() == 6) {
      failed_once = true;
      // Records 3 and 5 failed: the retry starts at 3.
      outcome.payload = json{{"batchItemFailures",
                              {{{"itemIdentifier", event["Records"][5]["kinesis"]["sequenceNumber"]}},
                               {{"itemIdentifier", event["Records"][3]["kinesis"]["sequenceNumber"]}}}}}
                            .dump();
    }
    return outcome;
  };
  StreamPoller poller(s, deps());
  ASSERT_TRUE(eventually([&] { return seen().size() >= 9; }));
  EXPECT_EQ(seen(), (std::vector<int>{0, 1, 2, 3, 4, 5, 3, 4, 5}));
}

TEST_F(PollerTest, BisectingIsolatesAPoisonRecordWhichGoesToOnFailure) {
  add(8);
  MappingSettings s = settings(false);
  s.batch_size = 8;
  s.bisect = true;
  s.max_retries = 1;
  s.on_failure = "arn:aws:lambda:us-east-1:000000000000:function:failures";
  invoker_.answer = [](const json& event) {
    for (const json& record : event["Records"]) {
      if (json::parse(payload_of(record))["n"] == 5) {
        return InvokeOutcome{.payload = R"({"errorType":"Poison"})", .function_error = "Unhandled"};
      }
    }
    return InvokeOutcome{.payload = "null"};
  };
  StreamPoller poller(s, deps());
  std::vector<QueuedEvent> failures;
  ASSERT_TRUE(eventually([&] {
    auto found = on_failure_events();
    failures.insert(failures.end(), found.begin(), found.end());
    return !failures.empty();
  }));
  ASSERT_TRUE(eventually([&] {
    const auto ns = seen();
    return std::count(ns.begin(), ns.end(), 7) >= 1;
  }));
  // Every record but the poison one ran successfully at least once; it went to OnFailure alone.
  const json record = json::parse(failures[0].payload);
  EXPECT_EQ(failures[0].function_name, "failures");
  EXPECT_EQ(record["requestContext"]["condition"], "RetryAttemptsExhausted");
  EXPECT_EQ(record["RedisStreamBatchInfo"]["batchSize"], 1);
  const std::vector<int> ns = seen();
  for (int n : {0, 1, 2, 3, 4, 6, 7}) EXPECT_NE(std::find(ns.begin(), ns.end(), n), ns.end()) << n;
}

TEST_F(PollerTest, FiltersDropRecordsThatDoNotMatch) {
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(xadd(*redis_, "events", {{"data", json{{"n", i}, {"keep", i % 2 == 0}}.dump()}}).ok());
  }
  MappingSettings s = settings(false);
  auto filter = FilterPattern::parse(R"({"data":{"keep":[true]}})", SourceKind::kStream);
  ASSERT_TRUE(filter.ok()) << filter.error().message();
  s.filters.push_back(std::move(filter).value());
  StreamPoller poller(s, deps());
  ASSERT_TRUE(eventually([&] { return poller.figures().lag.load() == 0 && !seen().empty(); }));
  EXPECT_EQ(seen(), (std::vector<int>{0, 2, 4}));
}

TEST_F(PollerTest, QueueBatchesRunInParallelAndFailedRecordsComeBack) {
  add(40);
  MappingSettings s = settings(true);
  s.batch_size = 5;
  s.max_concurrency = 4;
  s.visibility_timeout_ms = 500;
  s.max_retries = 3;
  s.on_failure = "arn:ember:redis:::test/stream/dead";
  invoker_.sleep = std::chrono::milliseconds(300);
  s.report_item_failures = true;
  invoker_.answer = [](const json& event) {
    json failures = json::array();
    for (const json& record : event["Records"]) {
      if (json::parse(std::string(record["body"]))["n"] == 7) {
        failures.push_back({{"itemIdentifier", record["messageId"]}});
      }
    }
    return InvokeOutcome{.payload = json{{"batchItemFailures", failures}}.dump()};
  };
  QueuePoller poller(s, deps());
  std::vector<QueuedEvent> failures;
  ASSERT_TRUE(eventually([&] {
    auto found = on_failure_events();
    failures.insert(failures.end(), found.begin(), found.end());
    return !failures.empty();
  }, 40)) << "seen " << seen().size() << " records, 7 " << std::count(seen().begin(), seen().end(), 7)
           << " times; last reports " << (reports_.empty() ? "" : reports_.back());
  EXPECT_GE(invoker_.max_running(), 2);  // batches overlapped
  const json dead = json::parse(failures[0].payload);
  EXPECT_EQ(failures[0].function_name, "arn:ember:redis:::test/stream/dead");
  EXPECT_EQ(json::parse(std::string(dead["body"]))["n"], 7);
  EXPECT_EQ(dead["attributes"]["ApproximateReceiveCount"], "4");
  // Every other record succeeded, the ones batched with 7 too (only 7 was reported failed).
  std::set<int> ran(seen().begin(), seen().end());
  for (int n = 0; n < 40; ++n) EXPECT_TRUE(ran.contains(n)) << n;
  int sevens = 0;
  for (int n : seen()) sevens += n == 7;
  EXPECT_EQ(sevens, 3);  // received 3 times, run each time, the 4th receive went to OnFailure
}

TEST_F(PollerTest, AsyncDestinationsAndDeadLettersCanBeRedisStreams) {
  auto configs = EventInvokeConfigStore::open(state_ + "/functions.db");
  ASSERT_TRUE(configs.ok());
  ASSERT_TRUE(configs->put(EventInvokeConfig{.function_name = "consumer",
                                             .max_retries = 0,
                                             .on_success = "arn:ember:redis:::test/stream/ok",
                                             .on_failure = "arn:ember:redis:::test/stream/failed"})
                  .ok());
  RedisStreamWriter writer({tcp_server()});
  AsyncDispatcher dispatcher(*events_, *functions_, configs.value(), *runner_, *logs_,
                             AsyncDispatcherOptions{.workers = 0, .redis = &writer});
  invoker_.answer = [](const json& event) {
    if (event.contains("fail")) {
      return InvokeOutcome{.payload = R"({"errorType":"Boom"})", .function_error = "Unhandled"};
    }
    return InvokeOutcome{.payload = R"({"done":true})"};
  };
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  ASSERT_TRUE(events_->enqueue({.request_id = "good", .function_name = "consumer",
                                .payload = "{}", .accepted_ms = now}).ok());
  ASSERT_TRUE(events_->enqueue({.request_id = "bad", .function_name = "consumer",
                                .payload = R"({"fail":1})", .accepted_ms = now}).ok());
  EXPECT_EQ(dispatcher.run_due(), 2u);  // both run; their records are queued for Redis
  EXPECT_EQ(dispatcher.run_due(), 2u);  // and appended
  auto ok = redis_->command({"XRANGE", "ok", "-", "+"});
  auto failed = redis_->command({"XRANGE", "failed", "-", "+"});
  ASSERT_TRUE(ok.ok() && failed.ok());
  ASSERT_EQ(ok->elements.size(), 1u);
  ASSERT_EQ(failed->elements.size(), 1u);
  const auto& fields = ok->elements[0].elements[1].elements;
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].text, "data");
  const json record = json::parse(fields[1].text);
  EXPECT_EQ(record["requestContext"]["condition"], "Success");
  EXPECT_EQ(record["responsePayload"]["done"], true);
  const json failure = json::parse(failed->elements[0].elements[1].elements[1].text);
  EXPECT_EQ(failure["requestContext"]["condition"], "RetriesExhausted");

  // With Redis down the record waits in the queue, to be appended once Redis is back.
  stop_server();
  ASSERT_TRUE(events_->enqueue({.request_id = "later", .function_name = "consumer",
                                .payload = "{}", .accepted_ms = now}).ok());
  dispatcher.run_due();
  dispatcher.run_due();
  auto stats = events_->claim(INT64_MAX, 10);
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ(stats->front().function_name, "arn:ember:redis:::test/stream/ok");
  EXPECT_GT(stats->front().backoff_ms, 0);
}

TEST_F(PollerTest, AServerThatIsDownIsReportedAndRetried) {
  stop_server();
  MappingSettings s = settings(false);
  StreamPoller poller(s, deps());
  EXPECT_TRUE(eventually([&] { return reported("PROBLEM: Redis server 'test'"); }, 10));
}

}  // namespace
}  // namespace ember::host
