// Tests for the event source mapping routes: every route, Lambda's validation for stream and queue
// sources, the defaults of each kind, the state fields and paging.
#include "host/api/event_source_mapping_api.h"

#include <regex>

#include "host/api/api_test_fixture.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr char kPath[] = "/2015-03-31/event-source-mappings";
constexpr char kStream[] = "arn:ember:redis:::default/stream/orders";
constexpr char kQueue[] = "arn:ember:redis:::default/queue/jobs";
constexpr char kFunctionArn[] = "arn:aws:lambda:us-east-1:000000000000:function:f";

class EventSourceMappingTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    open_mappings();
    create_ok("f");
    create_ok("g");
  }
  void TearDown() override {
    mapping_api_.reset();
    mappings_.reset();
    ApiTest::TearDown();
  }
  void open_mappings() {
    auto mappings = EventSourceMappingStore::open(dir_ + "/functions.db");
    ASSERT_TRUE(mappings.ok()) << mappings.error().message();
    mappings_.emplace(std::move(mappings).value());
    mapping_api_.emplace(*functions_, *mappings_, "us-east-1", RedisServerNames{"default", "other"},
                         [this] { ++changes_; });
    mapping_api_->add_routes(api_->router());
    api_->on_function_deleted(
        [this](const std::string& name) { mapping_api_->function_deleted(name); });
  }
  void restart() {
    mapping_api_.reset();
    mappings_.reset();
    close_state();
    open_state();
    open_mappings();
  }

  static json stream_body(const std::string& function = "f") {
    return {
        {"FunctionName", function}, {"EventSourceArn", kStream}, {"StartingPosition", "LATEST"}};
  }
  static json queue_body(const std::string& function = "f") {
    return {{"FunctionName", function}, {"EventSourceArn", kQueue}};
  }
  HttpResponse create_mapping(const json& body) { return call("POST", kPath, body.dump()); }
  // Creates a mapping and checks that it worked; the answer.
  json create_mapping_ok(const json& body) {
    const HttpResponse response = create_mapping(body);
    EXPECT_EQ(response.status, 202) << response.body;
    return json_of(response);
  }
  HttpResponse update_mapping(const std::string& uuid, const json& body) {
    return call("PUT", std::string(kPath) + "/" + uuid, body.dump());
  }
  // The error of creating a stream mapping with `extra` members added.
  std::string create_error(json body, const json& extra) {
    for (const auto& [key, value] : extra.items()) body[key] = value;
    return error_of(create_mapping(body));
  }
  static std::string message_of(const HttpResponse& response) {
    return json_of(response).value("message", "");
  }

  int changes_ = 0;
  std::optional<EventSourceMappingStore> mappings_;
  std::optional<EventSourceMappingApi> mapping_api_;
};

TEST_F(EventSourceMappingTest, StreamDefaultsAreKinesis) {
  const json body = create_mapping_ok(stream_body());
  EXPECT_TRUE(std::regex_match(body["UUID"].get<std::string>(),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                          "[0-9a-f]{12}")));
  EXPECT_EQ(body["EventSourceMappingArn"],
            "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:" +
                body["UUID"].get<std::string>());
  EXPECT_EQ(body["EventSourceArn"], kStream);
  EXPECT_EQ(body["FunctionArn"], kFunctionArn);
  EXPECT_EQ(body["State"], "Creating");
  EXPECT_EQ(body["StateTransitionReason"], "USER_INITIATED");
  EXPECT_EQ(body["LastProcessingResult"], "No records processed");
  EXPECT_EQ(body["BatchSize"], 100);
  EXPECT_EQ(body["MaximumBatchingWindowInSeconds"], 0);
  EXPECT_EQ(body["StartingPosition"], "LATEST");
  EXPECT_FALSE(body.contains("StartingPositionTimestamp"));
  EXPECT_EQ(body["ParallelizationFactor"], 1);
  EXPECT_EQ(body["MaximumRetryAttempts"], -1);
  EXPECT_EQ(body["MaximumRecordAgeInSeconds"], -1);
  EXPECT_EQ(body["BisectBatchOnFunctionError"], false);
  EXPECT_EQ(body["TumblingWindowInSeconds"], 0);
  EXPECT_EQ(body["DestinationConfig"], json({{"OnFailure", json::object()}}));
  EXPECT_EQ(body["FunctionResponseTypes"], json::array());
  EXPECT_FALSE(body.contains("FilterCriteria"));
  EXPECT_FALSE(body.contains("ScalingConfig"));
  EXPECT_NEAR(body["LastModified"].get<double>(), unix_now_ms() / 1000.0, 60);
  EXPECT_EQ(changes_, 1);

  const HttpResponse got = call("GET", std::string(kPath) + "/" + body["UUID"].get<std::string>());
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json_of(got), body);
}

TEST_F(EventSourceMappingTest, QueueDefaultsAreSqs) {
  const json body = create_mapping_ok(queue_body());
  EXPECT_EQ(body["BatchSize"], 10);
  EXPECT_EQ(body["MaximumBatchingWindowInSeconds"], 0);
  EXPECT_EQ(body["State"], "Creating");
  EXPECT_EQ(body["FunctionResponseTypes"], json::array());
  for (const char* absent : {"StartingPosition", "MaximumRetryAttempts",
                             "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError",
                             "ParallelizationFactor", "DestinationConfig", "ScalingConfig"}) {
    EXPECT_FALSE(body.contains(absent)) << absent;
  }
  json full = queue_body("g");
  full["BatchSize"] = 1000;
  full["MaximumBatchingWindowInSeconds"] = 5;
  full["ScalingConfig"] = {{"MaximumConcurrency", 20}};
  full["FunctionResponseTypes"] = {"ReportBatchItemFailures"};
  full["FilterCriteria"] = {{"Filters", {{{"Pattern", R"({"body": {"kind": ["a"]}})"}}}}};
  full["DestinationConfig"] = {{"OnFailure", {{"Destination", kFunctionArn}}}};
  const json created = create_mapping_ok(full);
  EXPECT_EQ(created["BatchSize"], 1000);
  EXPECT_EQ(created["MaximumBatchingWindowInSeconds"], 5);
  EXPECT_EQ(created["ScalingConfig"]["MaximumConcurrency"], 20);
  EXPECT_EQ(created["FunctionResponseTypes"], json({"ReportBatchItemFailures"}));
  EXPECT_EQ(created["FilterCriteria"]["Filters"][0]["Pattern"], R"({"body": {"kind": ["a"]}})");
  EXPECT_EQ(created["DestinationConfig"]["OnFailure"]["Destination"], kFunctionArn);
  auto stored = mappings_->get(created["UUID"]);
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->source.queue);
  EXPECT_EQ(stored->source.key, "jobs");
  EXPECT_EQ(stored->function_name, "g");
  EXPECT_TRUE(stored->enabled);
}

TEST_F(EventSourceMappingTest, StatesFollowChangesAndThePoller) {
  json body = stream_body();
  body["Enabled"] = false;
  const std::string uuid = create_mapping_ok(body)["UUID"];
  const std::string one = std::string(kPath) + "/" + uuid;
  EXPECT_FALSE(mappings_->get(uuid)->enabled);
  ASSERT_TRUE(mappings_->set_status(uuid, {.state = "Disabled"}).ok());
  EXPECT_EQ(json_of(call("GET", one))["State"], "Disabled");

  HttpResponse updated = update_mapping(uuid, {{"Enabled", true}});
  ASSERT_EQ(updated.status, 202) << updated.body;
  EXPECT_EQ(json_of(updated)["State"], "Enabling");
  ASSERT_TRUE(
      mappings_->set_status(uuid, {.state = "Enabled", .last_processing_result = "OK"}).ok());
  const json enabled = json_of(call("GET", one));
  EXPECT_EQ(enabled["State"], "Enabled");
  EXPECT_EQ(enabled["LastProcessingResult"], "OK");
  EXPECT_EQ(json_of(update_mapping(uuid, {{"BatchSize", 7}}))["State"], "Updating");
  EXPECT_EQ(json_of(update_mapping(uuid, {{"Enabled", false}}))["State"], "Disabling");
  EXPECT_EQ(json_of(call("GET", one))["StateTransitionReason"], "USER_INITIATED");
  EXPECT_EQ(changes_, 4);

  const HttpResponse deleted = call("DELETE", one);
  ASSERT_EQ(deleted.status, 202) << deleted.body;
  EXPECT_EQ(json_of(deleted)["State"], "Deleting");
  EXPECT_EQ(json_of(deleted)["BatchSize"], 7);
  EXPECT_EQ(changes_, 5);
  EXPECT_EQ(error_of(call("GET", one)), "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("DELETE", one)), "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(update_mapping(uuid, {{"BatchSize", 8}})), "404 ResourceNotFoundException");
  EXPECT_EQ(changes_, 5);
}

TEST_F(EventSourceMappingTest, SourceArnsAndServers) {
  json body = stream_body();
  body["EventSourceArn"] = "arn:aws:kinesis:us-east-1:123456789012:stream/s";
  HttpResponse bad = create_mapping(body);
  EXPECT_EQ(error_of(bad), "400 InvalidParameterValueException");
  EXPECT_NE(message_of(bad).find("arn:ember:redis:::SERVER/stream/KEY"), std::string::npos);
  body["EventSourceArn"] = "arn:ember:redis:::x/stream/orders";
  bad = create_mapping(body);
  EXPECT_EQ(error_of(bad), "400 InvalidParameterValueException");
  EXPECT_EQ(message_of(bad).find("emberd has no Redis server named 'x'; start it with --redis "
                                 "x=redis://host:port"),
            0u)
      << message_of(bad);
  body["EventSourceArn"] = "arn:ember:redis:::default/table/orders";
  EXPECT_EQ(error_of(create_mapping(body)), "400 InvalidParameterValueException");
  body["EventSourceArn"] = "arn:ember:redis:::default/stream/";
  EXPECT_EQ(error_of(create_mapping(body)), "400 InvalidParameterValueException");
  body.erase("EventSourceArn");
  EXPECT_EQ(error_of(create_mapping(body)), "400 InvalidParameterValueException");
  body["EventSourceArn"] = "arn:ember:redis:::other/stream/orders";
  EXPECT_EQ(create_mapping(body).status, 202);
  EXPECT_EQ(changes_, 1);
}

TEST_F(EventSourceMappingTest, FunctionNames) {
  json body = stream_body(kFunctionArn);
  EXPECT_EQ(create_mapping_ok(body)["FunctionArn"], kFunctionArn);
  EXPECT_EQ(error_of(create_mapping(stream_body("nope"))), "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(create_mapping(stream_body("g:7"))), "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(create_mapping(stream_body("bad name!"))), "400 ValidationException");
  body.erase("FunctionName");
  EXPECT_EQ(error_of(create_mapping(body)), "400 ValidationException");
  EXPECT_EQ(error_of(call("POST", kPath, "not json")), "400 InvalidRequestContentException");
}

TEST_F(EventSourceMappingTest, BatchingRules) {
  const json s = stream_body();
  const json q = queue_body();
  EXPECT_EQ(create_error(s, {{"BatchSize", 0}}), "400 ValidationException");
  EXPECT_EQ(create_error(s, {{"BatchSize", 10001}}), "400 ValidationException");
  EXPECT_EQ(create_error(s, {{"BatchSize", "ten"}}), "400 InvalidRequestContentException");
  EXPECT_EQ(create_error(s, {{"MaximumBatchingWindowInSeconds", 301}}), "400 ValidationException");
  EXPECT_EQ(create_error(s, {{"MaximumBatchingWindowInSeconds", -1}}), "400 ValidationException");
  const HttpResponse big =
      create_mapping(json{{"FunctionName", "f"}, {"EventSourceArn", kQueue}, {"BatchSize", 11}});
  EXPECT_EQ(error_of(big), "400 InvalidParameterValueException");
  EXPECT_NE(message_of(big).find("MaximumBatchingWindowInSeconds"), std::string::npos);
  json windowed = q;
  windowed["BatchSize"] = 10000;
  windowed["MaximumBatchingWindowInSeconds"] = 1;
  EXPECT_EQ(create_mapping_ok(windowed)["BatchSize"], 10000);
  json stream = stream_body("g");
  stream["BatchSize"] = 10000;  // streams need no window
  EXPECT_EQ(create_mapping_ok(stream)["BatchSize"], 10000);
  EXPECT_EQ(create_error(s, {{"Enabled", "yes"}}), "400 InvalidRequestContentException");
}

TEST_F(EventSourceMappingTest, StartingPositions) {
  json s = stream_body();
  s.erase("StartingPosition");
  const HttpResponse missing = create_mapping(s);
  EXPECT_EQ(error_of(missing), "400 InvalidParameterValueException");
  EXPECT_NE(message_of(missing).find("TRIM_HORIZON"), std::string::npos);
  EXPECT_EQ(create_error(s, {{"StartingPosition", "OLDEST"}}), "400 ValidationException");
  EXPECT_EQ(create_error(s, {{"StartingPosition", "AT_TIMESTAMP"}}),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(s, {{"StartingPosition", "LATEST"}, {"StartingPositionTimestamp", 5}}),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(queue_body(), {{"StartingPosition", "LATEST"}}),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(queue_body(), {{"StartingPositionTimestamp", 1700000000}}),
            "400 InvalidParameterValueException");
  s["StartingPosition"] = "AT_TIMESTAMP";
  s["StartingPositionTimestamp"] = 1700000000.25;
  const json at = create_mapping_ok(s);
  EXPECT_EQ(at["StartingPosition"], "AT_TIMESTAMP");
  EXPECT_DOUBLE_EQ(at["StartingPositionTimestamp"].get<double>(), 1700000000.25);
  EXPECT_EQ(mappings_->get(at["UUID"])->starting_position_timestamp_ms, 1700000000250);
  json horizon = stream_body("g");
  horizon["StartingPosition"] = "TRIM_HORIZON";
  EXPECT_EQ(create_mapping_ok(horizon)["StartingPosition"], "TRIM_HORIZON");
}

TEST_F(EventSourceMappingTest, StreamOnlyAndQueueOnlySettings) {
  const json s = stream_body();
  const json q = queue_body();
  EXPECT_EQ(create_error(s, {{"MaximumRetryAttempts", -2}}), "400 ValidationException");
  EXPECT_EQ(create_error(s, {{"MaximumRetryAttempts", 10001}}), "400 ValidationException");
  EXPECT_EQ(create_error(s, {{"MaximumRecordAgeInSeconds", 604801}}), "400 ValidationException");
  EXPECT_EQ(create_error(s, {{"MaximumRecordAgeInSeconds", 59}}),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(s, {{"MaximumRecordAgeInSeconds", 0}}),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(s, {{"ScalingConfig", {{"MaximumConcurrency", 5}}}}),
            "400 InvalidParameterValueException");
  // For a queue, MaximumRetryAttempts is how many receives come before OnFailure.
  const HttpResponse retries = create_mapping(
      json{{"FunctionName", "f"}, {"EventSourceArn", kQueue}, {"MaximumRetryAttempts", 3}});
  ASSERT_EQ(retries.status, 202) << retries.body;
  EXPECT_EQ(json_of(retries)["MaximumRetryAttempts"], 3);
  EXPECT_EQ(create_error(q, {{"MaximumRecordAgeInSeconds", 60}}),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(q, {{"BisectBatchOnFunctionError", true}}),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(q, {{"ScalingConfig", {{"MaximumConcurrency", 1}}}}),
            "400 ValidationException");
  EXPECT_EQ(create_error(q, {{"ScalingConfig", {{"MaximumConcurrency", 1001}}}}),
            "400 ValidationException");
  EXPECT_EQ(create_error(s, {{"FunctionResponseTypes", {"Other"}}}), "400 ValidationException");
  EXPECT_EQ(create_error(s, {{"FunctionResponseTypes",
                              {"ReportBatchItemFailures", "ReportBatchItemFailures"}}}),
            "400 ValidationException");

  json full = s;
  full["MaximumRetryAttempts"] = 10000;
  full["MaximumRecordAgeInSeconds"] = 60;
  full["BisectBatchOnFunctionError"] = true;
  full["FunctionResponseTypes"] = {"ReportBatchItemFailures"};
  const json created = create_mapping_ok(full);
  EXPECT_EQ(created["MaximumRetryAttempts"], 10000);
  EXPECT_EQ(created["MaximumRecordAgeInSeconds"], 60);
  EXPECT_EQ(created["BisectBatchOnFunctionError"], true);
  EXPECT_EQ(created["FunctionResponseTypes"], json({"ReportBatchItemFailures"}));
}

TEST_F(EventSourceMappingTest, Destinations) {
  const json s = stream_body();
  const auto with = [](const std::string& arn) {
    return json{{"DestinationConfig", {{"OnFailure", {{"Destination", arn}}}}}};
  };
  EXPECT_EQ(create_error(s, with("arn:aws:sqs:us-east-1:123456789012:dlq")),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(s, with("arn:ember:redis:::default/queue/dead")),
            "400 InvalidParameterValueException");
  const HttpResponse unknown = create_mapping([&] {
    json body = s;
    body.update(with("arn:ember:redis:::nowhere/stream/dead"));
    return body;
  }());
  EXPECT_EQ(error_of(unknown), "400 InvalidParameterValueException");
  EXPECT_NE(message_of(unknown).find("--redis nowhere="), std::string::npos);
  EXPECT_EQ(
      create_error(s, {{"DestinationConfig", {{"OnSuccess", {{"Destination", kFunctionArn}}}}}}),
      "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(s, with(std::string(351, 'a'))), "400 ValidationException");
  json body = s;
  body.update(with("arn:ember:redis:::other/stream/dead"));
  const json created = create_mapping_ok(body);
  EXPECT_EQ(created["DestinationConfig"]["OnFailure"]["Destination"],
            "arn:ember:redis:::other/stream/dead");
  const HttpResponse cleared =
      update_mapping(created["UUID"], {{"DestinationConfig", {{"OnFailure", json::object()}}}});
  ASSERT_EQ(cleared.status, 202) << cleared.body;
  EXPECT_EQ(json_of(cleared)["DestinationConfig"], json({{"OnFailure", json::object()}}));
  const HttpResponse function =
      update_mapping(created["UUID"], with("arn:aws:lambda:us-east-1:000000000000:function:g"));
  EXPECT_EQ(json_of(function)["DestinationConfig"]["OnFailure"]["Destination"],
            "arn:aws:lambda:us-east-1:000000000000:function:g");
}

TEST_F(EventSourceMappingTest, FilterCriteria) {
  const json s = stream_body();
  const auto filters = [](std::vector<std::string> patterns) {
    json list = json::array();
    for (const auto& p : patterns) list.push_back({{"Pattern", p}});
    return json{{"FilterCriteria", {{"Filters", list}}}};
  };
  const std::string good = R"({"data": {"kind": ["order"]}})";
  EXPECT_EQ(create_error(s, filters({"[1, 2]"})), "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(s, filters({"{not json"})), "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(s, filters({""})), "400 InvalidParameterValueException");
  // JSON objects that FilterPattern refuses: a bare value, and matchers on a stream's data.
  const HttpResponse bare = create_mapping([&] {
    json body = s;
    body.update(filters({R"({"kind": "order"})"}));
    return body;
  }());
  EXPECT_EQ(error_of(bare), "400 InvalidParameterValueException");
  EXPECT_EQ(message_of(bare).rfind("Invalid filter pattern definition.", 0), 0u)
      << message_of(bare);
  EXPECT_EQ(create_error(s, filters({R"({"data": ["x"]})"})), "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(queue_body("g"), filters({R"({"body": ["x"]})"})), "202 ");
  EXPECT_EQ(create_error(s, filters({good, good, good, good, good, good})),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_error(s, filters({"{\"data\": \"" + std::string(4100, 'x') + "\"}"})),
            "400 ValidationException");
  json body = s;
  body.update(filters({good, R"({"partitionKey": ["a"]})"}));
  const json created = create_mapping_ok(body);
  ASSERT_EQ(created["FilterCriteria"]["Filters"].size(), 2u);
  EXPECT_EQ(created["FilterCriteria"]["Filters"][0]["Pattern"], good);
  const HttpResponse cleared =
      update_mapping(created["UUID"], {{"FilterCriteria", {{"Filters", json::array()}}}});
  ASSERT_EQ(cleared.status, 202) << cleared.body;
  EXPECT_FALSE(json_of(cleared).contains("FilterCriteria"));
}

TEST_F(EventSourceMappingTest, UnsupportedMembers) {
  const json s = stream_body();
  for (const json& extra :
       {json{{"Topics", {"t"}}}, json{{"Queues", {"q"}}},
        json{{"SourceAccessConfigurations", {{{"Type", "BASIC_AUTH"}}}}},
        json{{"SelfManagedEventSource", {{"Endpoints", {{"KAFKA", {"h"}}}}}}},
        json{{"DocumentDBEventSourceConfig", {{"DatabaseName", "d"}}}},
        json{{"KMSKeyArn", "arn:aws:kms:us-east-1:123456789012:key/k"}},
        json{{"MetricsConfig", {{"Metrics", {"EventCount"}}}}},
        json{{"ProvisionedPollerConfig", {{"MinimumPollers", 2}}}}, json{{"Tags", {{"team", "a"}}}},
        json{{"ParallelizationFactor", 2}}, json{{"TumblingWindowInSeconds", 60}}}) {
    const HttpResponse refused = create_mapping([&] {
      json body = s;
      body.update(extra);
      return body;
    }());
    EXPECT_EQ(error_of(refused), "400 InvalidParameterValueException") << extra.dump();
    EXPECT_NE(message_of(refused).find(extra.begin().key()), std::string::npos) << extra.dump();
  }
  EXPECT_EQ(create_error(s, {{"ParallelizationFactor", 11}}), "400 ValidationException");
  EXPECT_EQ(create_error(s, {{"TumblingWindowInSeconds", 901}}), "400 ValidationException");
  json defaults = s;
  defaults.update(json{{"ParallelizationFactor", 1},
                       {"TumblingWindowInSeconds", 0},
                       {"SourceAccessConfigurations", json::array()},
                       {"KMSKeyArn", ""},
                       {"Tags", json::object()},
                       {"MetricsConfig", {{"Metrics", json::array()}}}});
  const HttpResponse accepted = create_mapping(defaults);
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  const std::string uuid = json_of(accepted)["UUID"];
  EXPECT_EQ(error_of(update_mapping(uuid, {{"ParallelizationFactor", 3}})),
            "400 InvalidParameterValueException");
}

TEST_F(EventSourceMappingTest, OneMappingPerFunctionAndSource) {
  const std::string first = create_mapping_ok(stream_body())["UUID"];
  const HttpResponse again = create_mapping(stream_body());
  EXPECT_EQ(error_of(again), "409 ResourceConflictException");
  EXPECT_NE(message_of(again).find(first), std::string::npos) << message_of(again);
  EXPECT_EQ(create_mapping(stream_body("g")).status,
            202);                                       // another function: fine
  EXPECT_EQ(create_mapping(queue_body()).status, 202);  // another source: fine
  const std::string second = mappings_->list({.function_name = "g"})->front().uuid;
  EXPECT_EQ(error_of(update_mapping(second, {{"FunctionName", "f"}})),
            "409 ResourceConflictException");
  EXPECT_EQ(mappings_->get(second)->function_name, "g");
  EXPECT_EQ(changes_, 3);
}

TEST_F(EventSourceMappingTest, UpdateMergesAndChecks) {
  json q = queue_body();
  q["BatchSize"] = 5;
  q["ScalingConfig"] = {{"MaximumConcurrency", 4}};
  const json created = create_mapping_ok(q);
  const std::string uuid = created["UUID"];
  HttpResponse updated = update_mapping(uuid, {{"MaximumBatchingWindowInSeconds", 3}});
  ASSERT_EQ(updated.status, 202) << updated.body;
  EXPECT_EQ(json_of(updated)["BatchSize"], 5);  // kept
  EXPECT_EQ(json_of(updated)["MaximumBatchingWindowInSeconds"], 3);
  EXPECT_EQ(json_of(updated)["ScalingConfig"]["MaximumConcurrency"], 4);
  EXPECT_EQ(json_of(updated)["UUID"], uuid);
  EXPECT_EQ(json_of(updated)["EventSourceArn"], kQueue);

  updated = update_mapping(uuid, {{"FunctionName", "g"}, {"ScalingConfig", json::object()}});
  ASSERT_EQ(updated.status, 202) << updated.body;
  EXPECT_EQ(json_of(updated)["FunctionArn"], "arn:aws:lambda:us-east-1:000000000000:function:g");
  EXPECT_FALSE(json_of(updated).contains("ScalingConfig"));

  EXPECT_EQ(
      error_of(update_mapping(uuid, {{"MaximumBatchingWindowInSeconds", 0}, {"BatchSize", 11}})),
      "400 InvalidParameterValueException");
  EXPECT_EQ(json_of(update_mapping(uuid, {{"MaximumRetryAttempts", 1}}))["MaximumRetryAttempts"],
            1);
  EXPECT_EQ(error_of(update_mapping(uuid, {{"BatchSize", 10001}})), "400 ValidationException");
  EXPECT_EQ(error_of(update_mapping(uuid, {{"FunctionName", "nope"}})),
            "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(update_mapping("no-such-uuid", {{"BatchSize", 1}})),
            "404 ResourceNotFoundException");
  auto stored = mappings_->get(uuid);
  EXPECT_EQ(stored->batch_size, 5);  // nothing refused was kept
  EXPECT_EQ(stored->function_name, "g");
  EXPECT_EQ(stored->max_batching_window_s, 3);
  // StartingPosition is not a member of UpdateEventSourceMapping: ignored, not refused.
  EXPECT_EQ(update_mapping(uuid, {{"StartingPosition", "LATEST"}}).status, 202);
}

TEST_F(EventSourceMappingTest, ListFiltersAndPages) {
  const std::string a = create_mapping_ok(stream_body("f"))["UUID"];
  const std::string b = create_mapping_ok(queue_body("f"))["UUID"];
  const std::string c = create_mapping_ok(stream_body("g"))["UUID"];
  const auto uuids = [this](const std::string& query) {
    const HttpResponse response = call("GET", std::string(kPath) + "/" + query);
    EXPECT_EQ(response.status, 200) << response.body;
    const json body = json_of(response);
    std::vector<std::string> found;
    for (const json& m : body["EventSourceMappings"]) found.push_back(m["UUID"]);
    return found;
  };
  EXPECT_EQ(uuids(""), (std::vector<std::string>{a, b, c}));
  EXPECT_EQ(uuids("?FunctionName=f"), (std::vector<std::string>{a, b}));
  EXPECT_EQ(uuids(std::string("?FunctionName=") + kFunctionArn), (std::vector<std::string>{a, b}));
  EXPECT_EQ(uuids("?EventSourceArn=arn%3Aember%3Aredis%3A%3A%3Adefault%2Fstream%2Forders"),
            (std::vector<std::string>{a, c}));
  EXPECT_EQ(uuids(std::string("?FunctionName=g&EventSourceArn=") + kQueue),
            std::vector<std::string>{});
  EXPECT_EQ(uuids("?FunctionName=nope"), std::vector<std::string>{});

  const json first = json_of(call("GET", std::string(kPath) + "/?MaxItems=2"));
  ASSERT_EQ(first["EventSourceMappings"].size(), 2u);
  ASSERT_TRUE(first.contains("NextMarker"));
  const json rest = json_of(call(
      "GET", std::string(kPath) + "/?MaxItems=2&Marker=" + first["NextMarker"].get<std::string>()));
  ASSERT_EQ(rest["EventSourceMappings"].size(), 1u);
  EXPECT_EQ(rest["EventSourceMappings"][0]["UUID"], c);
  EXPECT_FALSE(rest.contains("NextMarker"));
  EXPECT_FALSE(json_of(call("GET", std::string(kPath) + "/?MaxItems=3")).contains("NextMarker"));

  EXPECT_EQ(error_of(call("GET", std::string(kPath) + "/?MaxItems=0")), "400 ValidationException");
  EXPECT_EQ(error_of(call("GET", std::string(kPath) + "/?MaxItems=10001")),
            "400 ValidationException");
  EXPECT_EQ(uuids("?MaxItems=10000").size(), 3u);
  EXPECT_EQ(error_of(call("GET", std::string(kPath) + "/?Marker=zzz")),
            "400 InvalidParameterValueException");
  EXPECT_EQ(error_of(call("GET", std::string(kPath) + "/?EventSourceArn=arn:aws:sqs:x")),
            "400 InvalidParameterValueException");
  // A source whose server is not configured (any more) still lists.
  EXPECT_EQ(uuids("?EventSourceArn=arn:ember:redis:::gone/stream/x"), std::vector<std::string>{});
}

TEST_F(EventSourceMappingTest, DeletingAFunctionDeletesItsMappings) {
  create_mapping_ok(stream_body("f"));
  create_mapping_ok(queue_body("f"));
  const std::string kept = create_mapping_ok(stream_body("g"))["UUID"];
  EXPECT_EQ(changes_, 3);
  ASSERT_EQ(call("DELETE", "/2015-03-31/functions/f").status, 204);
  EXPECT_EQ(changes_, 4);
  auto left = mappings_->list({});
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().uuid, kept);
  ASSERT_EQ(call("DELETE", "/2015-03-31/functions/f").status, 404);
  EXPECT_EQ(changes_, 4);
}

TEST_F(EventSourceMappingTest, MappingsSurviveARestart) {
  json body = queue_body();
  body["BatchSize"] = 3;
  const json created = create_mapping_ok(body);
  restart();
  const HttpResponse got =
      call("GET", std::string(kPath) + "/" + created["UUID"].get<std::string>());
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json_of(got), created);
}

}  // namespace
}  // namespace ember::host
