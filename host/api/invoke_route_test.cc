// Tests for Invoke (through a FakeInvoker) and the Ember log route.
#include <regex>

#include "host/api/api_test_fixture.h"
#include "host/store/sha256.h"

namespace ember::host {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class InvokeTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    json body = create_body("echo");
    body["MemorySize"] = 256;
    body["Timeout"] = 7;
    body["Environment"] = {{"Variables", {{"GREETING", "hi"}}}};
    ASSERT_EQ(create(body).status, 201);
  }
  HttpResponse invoke(const std::string& payload,
                      const std::map<std::string, std::string>& headers = {},
                      const std::string& name = "echo") {
    return call("POST", "/2015-03-31/functions/" + name + "/invocations", payload, headers);
  }
};

TEST_F(InvokeTest, EchoesThePayloadWithLambdasHeaders) {
  const HttpResponse response = invoke(R"({"key":"value"})");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"key":"value"})");
  EXPECT_EQ(response.header("X-Amz-Executed-Version"), "$LATEST");
  EXPECT_EQ(response.header("X-Amz-Function-Error"), "");
  EXPECT_EQ(response.header("X-Amz-Log-Result"), "");  // not asked for
  ASSERT_EQ(invoker_.seen().size(), 1u);
  const InvokeRequest seen = invoker_.seen().at(0);
  EXPECT_EQ(response.header("x-amzn-RequestId"), seen.request_id);
  EXPECT_EQ(seen.payload, R"({"key":"value"})");
  EXPECT_EQ(seen.fn.name, "echo");
  EXPECT_EQ(seen.fn.arn, "arn:aws:lambda:us-east-1:000000000000:function:echo");
  EXPECT_EQ(seen.fn.runtime, "python3.11");
  EXPECT_EQ(seen.fn.handler, "lambda_function.lambda_handler");
  EXPECT_EQ(seen.fn.memory_mb, 256u);
  EXPECT_EQ(seen.fn.timeout_s, 7u);
  EXPECT_EQ(seen.fn.ephemeral_mb, 512u);
  EXPECT_EQ(seen.fn.env, (std::map<std::string, std::string>{{"GREETING", "hi"}}));
  const std::string hex = hex_encode(sha256(hello_zip()));
  EXPECT_EQ(seen.fn.code_sha256_hex, hex);
  EXPECT_EQ(seen.fn.code_image_path, dir_ + "/code/" + hex + ".erofs");
  EXPECT_FALSE(seen.fn.revision_id.empty());
}

TEST_F(InvokeTest, AnEmptyPayloadIsAnEmptyObject) {
  ASSERT_EQ(invoke("").status, 200);
  EXPECT_EQ(invoker_.seen().at(0).payload, "{}");
}

TEST_F(InvokeTest, TimingHeaderSaysWarmOrCold) {
  EXPECT_EQ(invoke("{}").header("X-Ember-Timing"),
            "start=warm;pool=0;queue=0.50;restore=0.00;net=0.00;boot=0.00;init=0.00;handler=12.34;total=13.50");
  invoker_.timing = {.restore_ms = 8.5, .network_ms = 0.25, .handler_ms = 1, .total_ms = 10, .cold = true};
  EXPECT_EQ(invoke("{}").header("X-Ember-Timing"),
            "start=cold;pool=0;queue=0.00;restore=8.50;net=0.25;boot=0.00;init=0.00;handler=1.00;total=10.00");
}

TEST_F(InvokeTest, TailReturnsThisInvocationsLogLines) {
  const HttpResponse response = invoke("{}", {{"X-Amz-Log-Type", "Tail"}});
  ASSERT_EQ(response.status, 200);
  const auto log = base64_decode(response.header("X-Amz-Log-Result"));
  ASSERT_TRUE(log);
  const std::string id = response.header("x-amzn-RequestId");
  EXPECT_EQ(
      log->rfind("START RequestId: " + id + " Version: $LATEST\nhandling " + id +
                     "\nEND "
                     "RequestId: " +
                     id + "\nREPORT RequestId: " + id +
                     "\tDuration: 12.34 ms\t"
                     "Billed Duration: 13 ms\tMemory Size: 256 MB\tMax Memory Used: 40 MB\t\n",
                 0),
      0u);
}

TEST_F(InvokeTest, ColdStartsReportInitOrRestoreDuration) {
  invoker_.timing = {.boot_ms = 100, .init_ms = 50.25, .cold = true};
  auto log = base64_decode(invoke("{}", {{"X-Amz-Log-Type", "Tail"}}).header("X-Amz-Log-Result"));
  EXPECT_NE(log->find("\tInit Duration: 150.25 ms\t\n"), std::string::npos);
  invoker_.timing = {.restore_ms = 4, .cold = true};
  log = base64_decode(invoke("{}", {{"X-Amz-Log-Type", "Tail"}}).header("X-Amz-Log-Result"));
  EXPECT_NE(log->find("\tRestore Duration: 4.00 ms\t\n"), std::string::npos);
}

TEST_F(InvokeTest, FunctionErrorsAre200WithUnhandled) {
  invoker_.time_out = true;
  const HttpResponse response = invoke("{}", {{"X-Amz-Log-Type", "Tail"}});
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.header("X-Amz-Function-Error"), "Unhandled");
  const json error = json_of(response);
  EXPECT_EQ(error["errorType"], "Sandbox.Timedout");
  EXPECT_EQ(error["errorMessage"], "RequestId: " + response.header("x-amzn-RequestId") +
                                       " Error: Task timed out after 7.00 seconds");
  const auto log = base64_decode(response.header("X-Amz-Log-Result"));
  EXPECT_NE(log->find("\tStatus: timeout\t\n"), std::string::npos);
}

TEST_F(InvokeTest, InvokerErrorsMapToLambdaErrors) {
  invoker_.throttle = true;
  const HttpResponse throttled = invoke("{}");
  EXPECT_EQ(error_of(throttled), "429 TooManyRequestsException");
  EXPECT_NE(json_of(throttled)["message"].get<std::string>().find("Rate Exceeded."),
            std::string::npos);
  invoker_.throttle = false;
  invoker_.fail_with_service_error = true;
  const HttpResponse broken = invoke("{}");
  EXPECT_EQ(error_of(broken), "500 ServiceException");
  EXPECT_EQ(json_of(broken)["Type"], "Service");
  EXPECT_NE(json_of(broken)["Message"].get<std::string>().find("it broke"), std::string::npos);
}

TEST_F(InvokeTest, InvocationTypes) {
  const HttpResponse dry = invoke("{}", {{"X-Amz-Invocation-Type", "DryRun"}});
  EXPECT_EQ(dry.status, 204);
  EXPECT_TRUE(invoker_.seen().empty());
  const HttpResponse event = invoke("{\"n\": 1}", {{"X-Amz-Invocation-Type", "Event"}});
  EXPECT_EQ(event.status, 202);
  EXPECT_EQ(event.body, "");
  EXPECT_TRUE(invoker_.seen().empty());  // queued, not run by the route
  auto queued = events_->claim(unix_now_ms() + 1000, 10);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ(queued->front().request_id, event.header("x-amzn-RequestId"));
  EXPECT_EQ(queued->front().payload, "{\"n\": 1}");
  EXPECT_EQ(queued->front().source, "invoke");
  EXPECT_EQ(error_of(invoke("{}", {{"X-Amz-Invocation-Type", "Later"}})),
            "400 ValidationException");
  EXPECT_EQ(error_of(invoke("{}", {{"X-Amz-Log-Type", "All"}})), "400 ValidationException");
  EXPECT_EQ(invoke("{}", {{"X-Amz-Invocation-Type", "RequestResponse"}}).status, 200);
}

TEST_F(InvokeTest, PayloadMustBeJsonAndAtMost6Mb) {
  EXPECT_EQ(error_of(invoke("not json")), "400 InvalidRequestContentException");
  const std::string big = "\"" + std::string(6 * 1024 * 1024, 'x') + "\"";
  const HttpResponse too_big = invoke(big);
  EXPECT_EQ(error_of(too_big), "413 RequestTooLargeException");
  EXPECT_EQ(json_of(too_big)["message"],
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation");
  EXPECT_TRUE(invoker_.seen().empty());
}

TEST_F(InvokeTest, EventPayloadsAreAtMost1Mb) {
  const std::string big = "\"" + std::string(1024 * 1024, 'x') + "\"";
  const HttpResponse too_big = invoke(big, {{"X-Amz-Invocation-Type", "Event"}});
  EXPECT_EQ(error_of(too_big), "413 RequestTooLargeException");
  EXPECT_EQ(json_of(too_big)["message"],
            "Request must be smaller than 1048576 bytes for the InvokeFunction operation");
  EXPECT_EQ(error_of(invoke("nope", {{"X-Amz-Invocation-Type", "Event"}})),
            "400 InvalidRequestContentException");
  auto queued = events_->claim(unix_now_ms() + 1000, 10);
  ASSERT_TRUE(queued.ok());
  EXPECT_TRUE(queued->empty());  // nothing refused was queued
}

TEST_F(InvokeTest, QualifiedNamesInvokeLatestOnly) {
  EXPECT_EQ(invoke("{}", {}, "echo:$LATEST").status, 200);
  EXPECT_EQ(call("POST", "/2015-03-31/functions/echo/invocations?Qualifier=%24LATEST", "{}").status,
            200);
  EXPECT_EQ(error_of(invoke("{}", {}, "echo:2")), "404 ResourceNotFoundException");
}

TEST_F(InvokeTest, LogRouteFollowsByOffset) {
  const std::string first = invoke("{}").header("x-amzn-RequestId");
  const HttpResponse all = call("GET", "/ember/v1/functions/echo/logs");
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.body.rfind("START RequestId: " + first, 0), 0u);
  EXPECT_EQ(all.header("X-Ember-Log-Offset"), std::to_string(all.body.size()));
  const std::string offset = all.header("X-Ember-Log-Offset");
  const HttpResponse nothing = call("GET", "/ember/v1/functions/echo/logs?offset=" + offset);
  EXPECT_EQ(nothing.body, "");
  EXPECT_EQ(nothing.header("X-Ember-Log-Offset"), offset);
  const std::string second = invoke("{}").header("x-amzn-RequestId");
  const HttpResponse more = call("GET", "/ember/v1/functions/echo/logs?offset=" + offset);
  EXPECT_EQ(more.body.rfind("START RequestId: " + second, 0), 0u);
  EXPECT_EQ(more.body.find(first), std::string::npos);
  EXPECT_EQ(error_of(call("GET", "/ember/v1/functions/echo/logs?offset=-1")),
            "400 ValidationException");
}

TEST_F(InvokeTest, CodeReplacedDuringAnInvocationStaysUntilItEnds) {
  create_ok("moving", hello_zip("v1"));
  const std::string old_image = dir_ + "/code/" + hex_encode(sha256(hello_zip("v1"))) + ".erofs";
  bool image_there_after_update = false;
  invoker_.during_invoke = [&](const InvokeRequest& request) {
    EXPECT_EQ(request.fn.code_image_path, old_image);
    const HttpResponse updated = call("PUT", "/2015-03-31/functions/moving/code",
                                      json{{"ZipFile", base64_encode(hello_zip("v2"))}}.dump());
    EXPECT_EQ(updated.status, 200) << updated.body;
    image_there_after_update = fs::exists(old_image);
  };
  EXPECT_EQ(invoke("{}", {}, "moving").status, 200);
  EXPECT_TRUE(image_there_after_update);  // the VM being started may still attach it
  EXPECT_FALSE(fs::exists(old_image));    // the invocation's end removed it
  EXPECT_FALSE(fs::exists(dir_ + "/code/" + hex_encode(sha256(hello_zip("v1"))) + ".zip"));
}

TEST_F(InvokeTest, AnInvocationWhoseRevisionRetiredBeforeItBeganRunsOnTheFunctionAsItIsNow) {
  create_ok("moving", hello_zip("v1"));
  const std::string new_image = dir_ + "/code/" + hex_encode(sha256(hello_zip("v2"))) + ".erofs";
  invoker_.during_invoke = [&](const InvokeRequest&) {
    if (invoker_.seen().size() > 1) return;
    const HttpResponse updated = call("PUT", "/2015-03-31/functions/moving/code",
                                      json{{"ZipFile", base64_encode(hello_zip("v2"))}}.dump());
    EXPECT_EQ(updated.status, 200) << updated.body;
  };
  invoker_.stale = 1;  // the update retired the first attempt's revision before it began
  const HttpResponse response = invoke("{\"n\":1}", {}, "moving");
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, "{\"n\":1}");
  const auto seen = invoker_.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0].fn.revision_id, seen[1].fn.revision_id);
  EXPECT_EQ(seen[1].fn.code_image_path, new_image);
  EXPECT_EQ(seen[0].request_id, seen[1].request_id);  // one invocation, started again
}

TEST_F(InvokeTest, AnInvocationStaleEveryTimeFailsAfterItsRestarts) {
  create_ok("moving");
  invoker_.stale = 100;
  const HttpResponse response = invoke("{}", {}, "moving");
  EXPECT_EQ(response.status, 500) << response.body;
  EXPECT_EQ(invoker_.seen().size(), 4u);  // the first attempt and three restarts
}

}  // namespace
}  // namespace ember::host
