// Tests for EventBridge Scheduler's routes: every operation, its validation and a restart.
#include "host/api/scheduler_api.h"

#include "host/api/api_test_fixture.h"
#include "host/events/schedule_expression.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1'790'000'000;  // 2026-09-21, the fake clock's time
constexpr char kRole[] = "arn:aws:iam::123456789012:role/scheduler-role";
constexpr char kFunction[] = "arn:aws:lambda:us-east-1:000000000000:function:tick";

class SchedulerApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    open_scheduler();
  }
  void TearDown() override {
    scheduler_.reset();
    schedules_.reset();
    ApiTest::TearDown();
  }

  void open_scheduler() {
    auto store = ScheduleStore::open(dir_ + "/functions.db");
    ASSERT_TRUE(store.ok()) << store.error().message();
    schedules_.emplace(std::move(store).value());
    scheduler_ = std::make_unique<SchedulerApi>(
        *schedules_, SchedulerApiOptions{.region = "us-east-1", .clock = [this] { return now_; }},
        [this] { ++changes_; });
    scheduler_->add_routes(api_->router());
  }

  static json body(const std::string& expression = "rate(5 minutes)") {
    return {{"ScheduleExpression", expression},
            {"FlexibleTimeWindow", {{"Mode", "OFF"}}},
            {"Target", {{"Arn", kFunction}, {"RoleArn", kRole}}}};
  }
  HttpResponse create_schedule(const std::string& name, const json& b = body()) {
    return call("POST", "/schedules/" + name, b.dump());
  }
  void create_schedule_ok(const std::string& name, const json& b = body()) {
    const HttpResponse response = create_schedule(name, b);
    ASSERT_EQ(response.status, 200) << response.body;
  }
  json get(const std::string& name) {
    const HttpResponse response = call("GET", "/schedules/" + name);
    EXPECT_EQ(response.status, 200) << response.body;
    return json_of(response);
  }
  // The error "<status> <type>" of creating `b`, with its message in `message`.
  std::string create_error(const json& b, std::string* message = nullptr) {
    const HttpResponse response = create_schedule("bad", b);
    if (message) *message = json_of(response).value("Message", "");
    return error_of(response);
  }
  std::vector<std::string> names(const HttpResponse& response) {
    std::vector<std::string> out;
    const json listed = json_of(response);  // kept: the loop below refers into it
    for (const json& s : listed["Schedules"]) out.push_back(s["Name"]);
    return out;
  }

  int64_t now_ = kNow;
  int changes_ = 0;
  std::optional<ScheduleStore> schedules_;
  std::unique_ptr<SchedulerApi> scheduler_;
};

TEST_F(SchedulerApiTest, CreateAnswersTheArnAndGetEveryField) {
  json b = body("cron(0 12 ? * MON-FRI *)");
  b["ScheduleExpressionTimezone"] = "Europe/Berlin";
  b["StartDate"] = kNow + 60.75;  // rest-json timestamps: Unix seconds, maybe a fraction
  b["EndDate"] = kNow + 86400;
  b["State"] = "DISABLED";
  b["Description"] = "noon on weekdays";
  b["FlexibleTimeWindow"] = {{"Mode", "FLEXIBLE"}, {"MaximumWindowInMinutes", 15}};
  b["Target"]["Input"] = R"({"greeting":"hi"})";
  b["Target"]["RetryPolicy"] = {{"MaximumRetryAttempts", 3}, {"MaximumEventAgeInSeconds", 600}};
  b["Target"]["DeadLetterConfig"] = {
      {"Arn", "arn:aws:lambda:us-east-1:000000000000:function:failures"}};
  b["ActionAfterCompletion"] = "DELETE";
  b["ClientToken"] = "token-1";
  b["KmsKeyArn"] = "arn:aws:kms:us-east-1:123456789012:key/abc-123";
  b["GroupName"] = "default";
  const HttpResponse response = create_schedule("weekday-noon", b);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.header("Content-Type"), "application/json");
  EXPECT_FALSE(response.header("x-amzn-RequestId").empty());
  EXPECT_EQ(json_of(response),
            json({{"ScheduleArn",
                   "arn:aws:scheduler:us-east-1:000000000000:schedule/default/weekday-noon"}}));
  EXPECT_EQ(changes_, 1);

  const json s = get("weekday-noon");
  EXPECT_EQ(s["Arn"], "arn:aws:scheduler:us-east-1:000000000000:schedule/default/weekday-noon");
  EXPECT_EQ(s["Name"], "weekday-noon");
  EXPECT_EQ(s["GroupName"], "default");
  EXPECT_EQ(s["ScheduleExpression"], "cron(0 12 ? * MON-FRI *)");
  EXPECT_EQ(s["ScheduleExpressionTimezone"], "Europe/Berlin");
  EXPECT_EQ(s["StartDate"], kNow + 60);
  EXPECT_EQ(s["EndDate"], kNow + 86400);
  EXPECT_EQ(s["State"], "DISABLED");
  EXPECT_EQ(s["Description"], "noon on weekdays");
  EXPECT_EQ(s["FlexibleTimeWindow"], json({{"Mode", "FLEXIBLE"}, {"MaximumWindowInMinutes", 15}}));
  EXPECT_EQ(s["Target"],
            json({{"Arn", kFunction},
                  {"RoleArn", kRole},
                  {"Input", R"({"greeting":"hi"})"},
                  {"RetryPolicy", {{"MaximumRetryAttempts", 3}, {"MaximumEventAgeInSeconds", 600}}},
                  {"DeadLetterConfig",
                   {{"Arn", "arn:aws:lambda:us-east-1:000000000000:function:failures"}}}}));
  EXPECT_EQ(s["ActionAfterCompletion"], "DELETE");
  EXPECT_EQ(s["KmsKeyArn"], "arn:aws:kms:us-east-1:123456789012:key/abc-123");
  EXPECT_EQ(s["CreationDate"], kNow);
  EXPECT_EQ(s["LastModificationDate"], kNow);
  EXPECT_EQ(schedules_->get("weekday-noon")->client_token, "token-1");
}

TEST_F(SchedulerApiTest, CreateFillsScheduler_sDefaults) {
  create_schedule_ok("plain");
  const json s = get("plain");
  EXPECT_EQ(s["State"], "ENABLED");
  EXPECT_EQ(s["ActionAfterCompletion"], "NONE");
  EXPECT_EQ(s["ScheduleExpressionTimezone"], "UTC");
  EXPECT_EQ(s["FlexibleTimeWindow"], json({{"Mode", "OFF"}}));
  EXPECT_EQ(s["Target"]["RetryPolicy"],
            json({{"MaximumRetryAttempts", 185}, {"MaximumEventAgeInSeconds", 86400}}));
  EXPECT_FALSE(s.contains("Description"));
  EXPECT_FALSE(s.contains("StartDate"));
  EXPECT_FALSE(s.contains("EndDate"));
  EXPECT_FALSE(s["Target"].contains("Input"));
  EXPECT_FALSE(s["Target"].contains("DeadLetterConfig"));
}

TEST_F(SchedulerApiTest, CreatingAnExistingScheduleIsAConflictUnlessItIsTheSameRetry) {
  json b = body();
  b["ClientToken"] = "first";
  create_schedule_ok("twice", b);
  b["ClientToken"] = "second";
  const HttpResponse again = create_schedule("twice", b);
  EXPECT_EQ(error_of(again), "409 ConflictException");
  EXPECT_EQ(json_of(again)["Message"], "Schedule twice already exists.");
  // The SDK's retry of the first request carries its token: it succeeds again.
  b["ClientToken"] = "first";
  EXPECT_EQ(create_schedule("twice", b).status, 200);
  EXPECT_EQ(changes_, 1);
}

TEST_F(SchedulerApiTest, RequiredMembersAreRequired) {
  std::string message;
  for (const char* member : {"ScheduleExpression", "FlexibleTimeWindow", "Target"}) {
    json b = body();
    b.erase(member);
    EXPECT_EQ(create_error(b, &message), "400 ValidationException") << member;
    EXPECT_NE(message.find("Member must not be null"), std::string::npos) << message;
  }
  json b = body();
  b["Target"].erase("RoleArn");
  EXPECT_EQ(create_error(b, &message), "400 ValidationException");
  EXPECT_NE(message.find("'target.roleArn'"), std::string::npos) << message;
  b = body();
  b["Target"].erase("Arn");
  EXPECT_EQ(create_error(b), "400 ValidationException");
  b = body();
  b["FlexibleTimeWindow"] = json::object();
  EXPECT_EQ(create_error(b, &message), "400 ValidationException");
  EXPECT_NE(message.find("'flexibleTimeWindow.mode'"), std::string::npos) << message;
  EXPECT_EQ(error_of(call("POST", "/schedules/empty", "")), "400 ValidationException");
  EXPECT_EQ(error_of(call("POST", "/schedules/junk", "not json")), "400 ValidationException");
  EXPECT_EQ(changes_, 0);
}

TEST_F(SchedulerApiTest, BoundsOfTheModelAreChecked) {
  struct Case {
    const char* what;
    json patch;  // merged into body() (RFC 7396)
    const char* in_message;
  };
  const json flexible = {{"Mode", "FLEXIBLE"}};
  const std::vector<Case> cases = {
      {"window 0",
       {{"FlexibleTimeWindow", {{"Mode", "FLEXIBLE"}, {"MaximumWindowInMinutes", 0}}}},
       "greater than or equal to 1"},
      {"window 1441",
       {{"FlexibleTimeWindow", {{"Mode", "FLEXIBLE"}, {"MaximumWindowInMinutes", 1441}}}},
       "less than or equal to 1440"},
      {"flexible, no window",
       {{"FlexibleTimeWindow", flexible}},
       "MaximumWindowInMinutes is required"},
      {"window with OFF",
       {{"FlexibleTimeWindow", {{"MaximumWindowInMinutes", 5}}}},
       "only when FlexibleTimeWindow.Mode is FLEXIBLE"},
      {"mode", {{"FlexibleTimeWindow", {{"Mode", "SOMETIMES"}}}}, "[OFF, FLEXIBLE]"},
      {"retries 186",
       {{"Target", {{"RetryPolicy", {{"MaximumRetryAttempts", 186}}}}}},
       "'target.retryPolicy.maximumRetryAttempts'"},
      {"retries -1",
       {{"Target", {{"RetryPolicy", {{"MaximumRetryAttempts", -1}}}}}},
       "greater than or equal to 0"},
      {"retries as text",
       {{"Target", {{"RetryPolicy", {{"MaximumRetryAttempts", "3"}}}}}},
       "must be an integer"},
      {"age 59",
       {{"Target", {{"RetryPolicy", {{"MaximumEventAgeInSeconds", 59}}}}}},
       "greater than or equal to 60"},
      {"age 86401",
       {{"Target", {{"RetryPolicy", {{"MaximumEventAgeInSeconds", 86401}}}}}},
       "less than or equal to 86400"},
      {"description", {{"Description", std::string(513, 'd')}}, "less than or equal to 512"},
      {"state", {{"State", "PAUSED"}}, "[ENABLED, DISABLED]"},
      {"action", {{"ActionAfterCompletion", "ARCHIVE"}}, "[NONE, DELETE]"},
      {"client token", {{"ClientToken", "no spaces"}}, "'clientToken'"},
      {"kms key", {{"KmsKeyArn", "key-1"}}, "'kmsKeyArn'"},
      {"role", {{"Target", {{"RoleArn", "my-role"}}}}, "'target.roleArn'"},
      {"expression length",
       {{"ScheduleExpression", std::string(257, 'x')}},
       "'scheduleExpression'"},
      {"empty input", {{"Target", {{"Input", ""}}}}, "'target.input'"},
      {"input not json", {{"Target", {{"Input", "hello"}}}}, "well-formed JSON"},
      {"dates",
       {{"StartDate", kNow + 100}, {"EndDate", kNow + 100}},
       "EndDate must be after the StartDate"},
      {"date as text", {{"StartDate", "tomorrow"}}, "Unix seconds"},
  };
  for (const Case& c : cases) {
    json b = body();
    b.merge_patch(c.patch);
    std::string message;
    EXPECT_EQ(create_error(b, &message), "400 ValidationException") << c.what;
    EXPECT_NE(message.find(c.in_message), std::string::npos) << c.what << ": " << message;
  }
  EXPECT_EQ(changes_, 0);
  EXPECT_EQ(schedules_->list("", "", "", 10)->size(), 0u);
}

TEST_F(SchedulerApiTest, NamesAreChecked) {
  std::string too_long(65, 'n');
  EXPECT_EQ(error_of(create_schedule(too_long, body())), "400 ValidationException");
  const HttpResponse spaced = create_schedule("has%20space", body());
  EXPECT_EQ(error_of(spaced), "400 ValidationException");
  EXPECT_NE(json_of(spaced)["Message"].get<std::string>().find("regular expression pattern"),
            std::string::npos);
  EXPECT_EQ(error_of(call("GET", "/schedules/bad%2Fname")), "400 ValidationException");
  create_schedule_ok(std::string(64, 'n'));
  create_schedule_ok("dots.and-dashes_ok");
}

TEST_F(SchedulerApiTest, BadExpressionsAndZonesAnswerTheParser_sMessage) {
  std::string message;
  EXPECT_EQ(create_error(body("rate(0 hours)"), &message), "400 ValidationException");
  EXPECT_EQ(message, ScheduleExpression::parse("rate(0 hours)").error().context);
  EXPECT_EQ(create_error(body("every tuesday"), &message), "400 ValidationException");
  EXPECT_EQ(message, ScheduleExpression::parse("every tuesday").error().context);
  json b = body();
  b["ScheduleExpressionTimezone"] = "Mars/Olympus_Mons";
  EXPECT_EQ(create_error(b, &message), "400 ValidationException");
  EXPECT_NE(message.find("Mars/Olympus_Mons"), std::string::npos) << message;
  for (const char* good : {"rate(1 minute)", "cron(0/15 * * * ? *)", "at(2026-12-01T10:00:00)"}) {
    EXPECT_EQ(create_schedule(std::string("ok-") + std::to_string(changes_), body(good)).status,
              200)
        << good;
  }
}

TEST_F(SchedulerApiTest, OnlyLambdaTargetsAreRun) {
  std::string message;
  json b = body();
  b["Target"]["Arn"] = "arn:aws:sqs:us-east-1:123456789012:my-queue";
  EXPECT_EQ(create_error(b, &message), "400 ValidationException");
  EXPECT_NE(message.find("Ember runs only Lambda targets"), std::string::npos) << message;
  b = body();
  b["Target"]["Arn"] = "arn:aws:scheduler:::aws-sdk:lambda:invoke";
  EXPECT_EQ(create_error(b), "400 ValidationException");
  b = body();
  b["Target"]["SqsParameters"] = {{"MessageGroupId", "g"}};
  EXPECT_EQ(create_error(b, &message), "400 ValidationException");
  EXPECT_NE(message.find("Ember runs only Lambda targets"), std::string::npos) << message;
  b = body();
  b["Target"]["DeadLetterConfig"] = {{"Arn", "arn:aws:sqs:us-east-1:123456789012:dlq"}};
  EXPECT_EQ(create_error(b, &message), "400 ValidationException");
  EXPECT_NE(message.find("no SQS"), std::string::npos) << message;
  b = body();
  b["Target"]["Arn"] = "arn:aws:lambda:eu-west-1:123456789012:function:other:$LATEST";
  EXPECT_EQ(create_schedule("qualified", b).status, 200);
}

TEST_F(SchedulerApiTest, OnlyTheDefaultGroupExists) {
  json b = body();
  b["GroupName"] = "mine";
  EXPECT_EQ(create_error(b), "404 ResourceNotFoundException");
  create_schedule_ok("grouped");
  EXPECT_EQ(call("GET", "/schedules/grouped?groupName=default").status, 200);
  EXPECT_EQ(error_of(call("GET", "/schedules/grouped?groupName=mine")),
            "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("DELETE", "/schedules/grouped?groupName=mine")),
            "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("GET", "/schedules?ScheduleGroup=mine")),
            "404 ResourceNotFoundException");

  const json group = json_of(call("GET", "/schedule-groups/default"));
  EXPECT_EQ(group["Arn"], "arn:aws:scheduler:us-east-1:000000000000:schedule-group/default");
  EXPECT_EQ(group["State"], "ACTIVE");
  EXPECT_EQ(group["CreationDate"], schedules_->default_group_created_s());
  EXPECT_EQ(error_of(call("GET", "/schedule-groups/other")), "404 ResourceNotFoundException");
  const json groups = json_of(call("GET", "/schedule-groups"));
  ASSERT_EQ(groups["ScheduleGroups"].size(), 1u);
  EXPECT_EQ(groups["ScheduleGroups"][0]["Name"], "default");
  EXPECT_EQ(json_of(call("GET", "/schedule-groups?NamePrefix=x"))["ScheduleGroups"].size(), 0u);
  EXPECT_EQ(error_of(call("POST", "/schedule-groups/default")), "409 ConflictException");
  EXPECT_EQ(error_of(call("POST", "/schedule-groups/new")), "400 ValidationException");
  EXPECT_EQ(error_of(call("DELETE", "/schedule-groups/default")), "400 ValidationException");
  EXPECT_EQ(error_of(call("DELETE", "/schedule-groups/new")), "404 ResourceNotFoundException");
}

TEST_F(SchedulerApiTest, UpdateReplacesTheWholeSchedule) {
  json b = body("rate(1 hour)");
  b["Description"] = "hourly";
  b["Target"]["Input"] = "{}";
  b["Target"]["DeadLetterConfig"] = {{"Arn", kFunction}};
  create_schedule_ok("changing", b);
  now_ += 100;
  json replacement = body("rate(2 hours)");
  replacement["State"] = "DISABLED";
  const HttpResponse updated = call("PUT", "/schedules/changing", replacement.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(json_of(updated)["ScheduleArn"],
            "arn:aws:scheduler:us-east-1:000000000000:schedule/default/changing");
  const json s = get("changing");
  EXPECT_EQ(s["ScheduleExpression"], "rate(2 hours)");
  EXPECT_EQ(s["State"], "DISABLED");
  EXPECT_FALSE(s.contains("Description"));
  EXPECT_FALSE(s["Target"].contains("Input"));
  EXPECT_FALSE(s["Target"].contains("DeadLetterConfig"));
  EXPECT_EQ(s["CreationDate"], kNow);
  EXPECT_EQ(s["LastModificationDate"], kNow + 100);
  EXPECT_EQ(changes_, 2);

  EXPECT_EQ(error_of(call("PUT", "/schedules/missing", body().dump())),
            "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("PUT", "/schedules/changing", body("rate(0 hours)").dump())),
            "400 ValidationException");
  EXPECT_EQ(get("changing")["ScheduleExpression"], "rate(2 hours)");  // a refused update
  EXPECT_EQ(changes_, 2);
}

TEST_F(SchedulerApiTest, DeleteRemovesIt) {
  create_schedule_ok("short-lived");
  const HttpResponse deleted = call("DELETE", "/schedules/short-lived?clientToken=abc");
  EXPECT_EQ(deleted.status, 200);
  EXPECT_EQ(json_of(deleted), json::object());
  EXPECT_EQ(changes_, 2);
  const HttpResponse gone = call("GET", "/schedules/short-lived");
  EXPECT_EQ(error_of(gone), "404 ResourceNotFoundException");
  EXPECT_EQ(json_of(gone)["Message"], "Schedule short-lived does not exist.");
  EXPECT_EQ(error_of(call("DELETE", "/schedules/short-lived")), "404 ResourceNotFoundException");
  EXPECT_EQ(changes_, 2);
}

TEST_F(SchedulerApiTest, ListPaginatesAndFilters) {
  for (const char* name : {"b-two", "a-one", "c-three", "a-four", "a_five"}) {
    create_schedule_ok(name);
  }
  json disabled = body();
  disabled["State"] = "DISABLED";
  create_schedule_ok("a-off", disabled);

  std::vector<std::string> all;
  std::string token;
  int pages = 0;
  do {
    const HttpResponse page =
        call("GET", "/schedules?MaxResults=4" + (token.empty() ? "" : "&NextToken=" + token));
    ASSERT_EQ(page.status, 200) << page.body;
    for (const std::string& name : names(page)) all.push_back(name);
    token = json_of(page).value("NextToken", "");
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(all,
            (std::vector<std::string>{"a-four", "a-off", "a-one", "a_five", "b-two", "c-three"}));

  EXPECT_EQ(names(call("GET", "/schedules?NamePrefix=a-")),
            (std::vector<std::string>{"a-four", "a-off", "a-one"}));
  EXPECT_EQ(names(call("GET", "/schedules?NamePrefix=a_")), (std::vector<std::string>{"a_five"}));
  EXPECT_EQ(names(call("GET", "/schedules?State=DISABLED")), (std::vector<std::string>{"a-off"}));
  EXPECT_EQ(names(call("GET", "/schedules?State=ENABLED&NamePrefix=a")).size(), 3u);

  const json summary = json_of(call("GET", "/schedules?NamePrefix=c"))["Schedules"][0];
  EXPECT_EQ(summary, json({{"Arn",
                            "arn:aws:scheduler:us-east-1:000000000000:schedule/default/"
                            "c-three"},
                           {"CreationDate", kNow},
                           {"GroupName", "default"},
                           {"LastModificationDate", kNow},
                           {"Name", "c-three"},
                           {"State", "ENABLED"},
                           {"Target", {{"Arn", kFunction}}}}));
  EXPECT_FALSE(json_of(call("GET", "/schedules"))
                   .contains("NextToken"));  // everything fits the default page

  for (const char* bad :
       {"MaxResults=0", "MaxResults=101", "MaxResults=ten", "State=on", "NamePrefix=a%20b"}) {
    EXPECT_EQ(error_of(call("GET", std::string("/schedules?") + bad)), "400 ValidationException")
        << bad;
  }
}

TEST_F(SchedulerApiTest, SchedulesSurviveARestartBesideTheFunctions) {
  create_ok("tick");
  json b = body("rate(10 minutes)");
  b["Description"] = "durable";
  create_schedule_ok("durable", b);
  ASSERT_TRUE(schedules_->set_last_fired("durable", kNow + 600).ok());
  scheduler_.reset();
  schedules_.reset();
  close_state();
  open_state();
  open_scheduler();
  EXPECT_EQ(get("durable")["Description"], "durable");
  EXPECT_EQ(schedules_->get("durable")->last_fired_s, kNow + 600);
  EXPECT_EQ(call("GET", "/2015-03-31/functions/tick").status, 200);
}

}  // namespace
}  // namespace ember::host
