// Tests for the EventInvokeConfig routes: Put replaces, Update merges, Get, Delete, List, and
// Lambda's validation; plus DeadLetterConfig on functions.
#include "host/api/event_invoke_config_api.h"

#include "host/api/api_test_fixture.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr char kPath[] = "/2019-09-25/functions/f/event-invoke-config";
constexpr char kTarget[] = "arn:aws:lambda:us-east-1:000000000000:function:target";

class EventInvokeConfigTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    auto configs = EventInvokeConfigStore::open(dir_ + "/functions.db");
    ASSERT_TRUE(configs.ok());
    configs_.emplace(std::move(configs).value());
    config_api_.emplace(*functions_, *configs_, "us-east-1");
    config_api_->add_routes(api_->router());
    create_ok("f");
  }
  void TearDown() override {
    config_api_.reset();
    configs_.reset();
    ApiTest::TearDown();
  }
  std::optional<EventInvokeConfigStore> configs_;
  std::optional<EventInvokeConfigApi> config_api_;
};

TEST_F(EventInvokeConfigTest, PutReplacesAndUpdateMerges) {
  EXPECT_EQ(error_of(call("GET", kPath)), "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("POST", kPath, "{}")), "404 ResourceNotFoundException");
  const json put = {{"MaximumRetryAttempts", 1},
                    {"MaximumEventAgeInSeconds", 120},
                    {"DestinationConfig", {{"OnFailure", {{"Destination", kTarget}}}}}};
  const HttpResponse created = call("PUT", kPath, put.dump());
  ASSERT_EQ(created.status, 200) << created.body;
  const json body = json_of(created);
  EXPECT_EQ(body["FunctionArn"], "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST");
  EXPECT_EQ(body["MaximumRetryAttempts"], 1);
  EXPECT_EQ(body["MaximumEventAgeInSeconds"], 120);
  EXPECT_EQ(body["DestinationConfig"]["OnFailure"]["Destination"], kTarget);
  EXPECT_EQ(body["DestinationConfig"]["OnSuccess"], json::object());
  EXPECT_TRUE(body["LastModified"].is_number());

  const HttpResponse merged = call("POST", kPath, json{{"MaximumRetryAttempts", 0}}.dump());
  ASSERT_EQ(merged.status, 200) << merged.body;
  EXPECT_EQ(json_of(merged)["MaximumRetryAttempts"], 0);
  EXPECT_EQ(json_of(merged)["MaximumEventAgeInSeconds"], 120);  // kept
  EXPECT_EQ(json_of(merged)["DestinationConfig"]["OnFailure"]["Destination"], kTarget);

  const HttpResponse replaced = call("PUT", kPath, json{{"MaximumRetryAttempts", 2}}.dump());
  EXPECT_FALSE(json_of(replaced).contains("MaximumEventAgeInSeconds"));  // gone
  EXPECT_EQ(json_of(replaced)["DestinationConfig"]["OnFailure"], json::object());
  EXPECT_EQ(json_of(call("GET", kPath))["MaximumRetryAttempts"], 2);

  const json list = json_of(call("GET", std::string(kPath) + "/list?MaxItems=10"));
  ASSERT_EQ(list["FunctionEventInvokeConfigs"].size(), 1u);
  EXPECT_EQ(list["FunctionEventInvokeConfigs"][0]["MaximumRetryAttempts"], 2);

  EXPECT_EQ(call("DELETE", kPath).status, 204);
  EXPECT_EQ(error_of(call("DELETE", kPath)), "404 ResourceNotFoundException");
  EXPECT_TRUE(json_of(call("GET", std::string(kPath) + "/list"))["FunctionEventInvokeConfigs"]
                  .empty());
}

TEST_F(EventInvokeConfigTest, ValidatesAsLambdaDoes) {
  EXPECT_EQ(error_of(call("PUT", kPath, R"({"MaximumRetryAttempts": 3})")),
            "400 ValidationException");
  EXPECT_EQ(error_of(call("PUT", kPath, R"({"MaximumRetryAttempts": -1})")),
            "400 ValidationException");
  EXPECT_EQ(error_of(call("PUT", kPath, R"({"MaximumEventAgeInSeconds": 59})")),
            "400 ValidationException");
  const HttpResponse too_old = call("PUT", kPath, R"({"MaximumEventAgeInSeconds": 21601})");
  EXPECT_EQ(json_of(too_old)["message"],
            "1 validation error detected: Value '21601' at 'maximumEventAgeInSeconds' failed to "
            "satisfy constraint: Member must have value less than or equal to 21600");
  EXPECT_EQ(error_of(call("PUT", kPath, R"({"MaximumRetryAttempts": "two"})")),
            "400 InvalidRequestContentException");
  const HttpResponse queue = call(
      "PUT", kPath,
      R"({"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}}})");
  EXPECT_EQ(error_of(queue), "400 InvalidParameterValueException");
  EXPECT_NE(json_of(queue)["message"].get<std::string>().find("Ember functions and Redis streams"),
            std::string::npos);
  EXPECT_EQ(error_of(call("PUT", "/2019-09-25/functions/nope/event-invoke-config", "{}")),
            "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("PUT", std::string(kPath) + "?Qualifier=1", "{}")),
            "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("GET", std::string(kPath) + "/list?MaxItems=51")),
            "400 ValidationException");
  EXPECT_EQ(error_of(call("GET", kPath)), "404 ResourceNotFoundException");  // nothing stored
}

TEST_F(EventInvokeConfigTest, DeadLetterConfigIsStoredAndChecked) {
  json body = create_body("with-dlq");
  body["DeadLetterConfig"] = {{"TargetArn", kTarget}};
  const HttpResponse created = create(body);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json_of(created)["DeadLetterConfig"]["TargetArn"], kTarget);
  EXPECT_EQ(json_of(call("GET", "/2015-03-31/functions/with-dlq/configuration"))
                ["DeadLetterConfig"]["TargetArn"],
            kTarget);
  const HttpResponse cleared = call("PUT", "/2015-03-31/functions/with-dlq/configuration",
                                    R"({"DeadLetterConfig": {}})");
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_EQ(json_of(cleared)["DeadLetterConfig"], json::object());
  const HttpResponse sns = call("PUT", "/2015-03-31/functions/with-dlq/configuration",
                                R"({"DeadLetterConfig": {"TargetArn": "arn:aws:sns:us-east-1:000000000000:t"}})");
  EXPECT_EQ(error_of(sns), "400 InvalidParameterValueException");
}

}  // namespace
}  // namespace ember::host
