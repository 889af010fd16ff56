// End-to-end tests of the invocation path through the real ember-agent: a user's own
// `provided` bootstrap, runtime exits, init failures and timeouts, 6 MB payloads, the Runtime
// API's robustness, sessions, and the rule of one invocation at a time.
#include <future>
#include <thread>

#include "host/agent_client_runtime_fixture.h"

namespace ember::host {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A user's own runtime: a bootstrap speaking the Runtime API, echoing what `next` gave it.
constexpr const char* kEchoBootstrap = R"(#!/usr/bin/python3
import http.client, json, os, sys
print("custom runtime up", flush=True)
api = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
while True:
    api.request("GET", "/2018-06-01/runtime/invocation/next")
    response = api.getresponse()
    event = response.read()
    h = response.headers
    rid = h["Lambda-Runtime-Aws-Request-Id"]
    if event == b'"exit"':
        print("leaving", flush=True)
        sys.exit(7)
    body = json.dumps({"event": event.decode(), "deadline": h["Lambda-Runtime-Deadline-Ms"],
                       "arn": h["Lambda-Runtime-Invoked-Function-Arn"],
                       "trace": h.get("Lambda-Runtime-Trace-Id"),
                       "context": h.get("Lambda-Runtime-Client-Context"),
                       "cognito": h.get("Lambda-Runtime-Cognito-Identity"),
                       "handler": os.environ["_HANDLER"]})
    api.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, body)
    api.getresponse().read()
)";

TEST_F(AgentRuntimeTest, ProvidedBootstrapGetsEveryHeader) {
  write_file("bootstrap", kEchoBootstrap, 0755);
  AgentSession s = start_agent();
  auto init = s.init_runtime(init_request("provided.al2", "my.handler"), kRpc);
  ASSERT_TRUE(init.ok()) << init.error().message();
  ASSERT_TRUE(init->ok) << init->error_body << init->logs;
  EXPECT_EQ(init->logs, "custom runtime up\n");

  Invoke request = invoke_request(R"({"k": 1})");
  request.trace_id = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1";
  request.client_context = R"({"custom":{"a":"b"}})";
  request.cognito_identity = R"({"cognitoIdentityId":"id"})";
  auto r = s.invoke(request, kRpc);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, InvokeResult::kSuccess);
  EXPECT_TRUE(contains(r->payload, R"("event": "{\"k\": 1}")")) << r->payload;
  // The runtime saw the guest's clock at the Invoke plus the budget (the same clock here).
  const size_t at = r->payload.find("\"deadline\": \"");
  ASSERT_NE(at, std::string::npos) << r->payload;
  const uint64_t deadline = std::stoull(r->payload.substr(at + 13));
  EXPECT_GT(deadline, unix_ms() + request.budget_ms - 10'000);
  EXPECT_LE(deadline, unix_ms() + request.budget_ms);
  EXPECT_TRUE(
      contains(r->payload, R"("arn": "arn:aws:lambda:us-east-1:000000000000:function:fn")"));
  EXPECT_TRUE(
      contains(r->payload, R"("trace": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1")"));
  EXPECT_TRUE(contains(r->payload, R"("context": "{\"custom\":{\"a\":\"b\"}}")")) << r->payload;
  EXPECT_TRUE(contains(r->payload, R"("cognito": "{\"cognitoIdentityId\":\"id\"}")"));
  EXPECT_TRUE(contains(r->payload, R"("handler": "my.handler")"));

  // Optional headers are left out when empty.
  InvokeResult plain = invoke(s, "{}");
  EXPECT_TRUE(contains(plain.payload, R"("trace": null, "context": null, "cognito": null)"))
      << plain.payload;
}

TEST_F(AgentRuntimeTest, RuntimeExitDuringAnInvocation) {
  write_file("bootstrap", kEchoBootstrap, 0755);
  AgentSession s = start_runtime("provided", "");
  InvokeResult r = invoke(s, R"("exit")");
  EXPECT_EQ(r.status, InvokeResult::kRuntimeExit);
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_EQ(r.error_type, "Runtime.ExitError");
  EXPECT_EQ(
      r.payload,
      R"({"errorMessage":"RequestId: req-1 Error: Runtime exited with error: exit status 7","errorType":"Runtime.ExitError"})");
  EXPECT_EQ(r.logs, "leaving\n");

  // The runtime is gone: later invocations end the same way at once.
  InvokeResult after = invoke(s, "{}");
  EXPECT_EQ(after.status, InvokeResult::kRuntimeExit);
  EXPECT_EQ(after.exit_code, 7);
  EXPECT_TRUE(contains(after.payload, "RequestId: req-2 Error: Runtime exited")) << after.payload;
}

TEST_F(AgentRuntimeTest, RuntimeKilledBySignalDuringAnInvocation) {
  write_file("app.py", R"(import os, signal
def handler(event, context):
    print("about to die")
    os.kill(os.getpid(), signal.SIGKILL)
)");
  AgentSession s = start_runtime("python3.11", "app.handler");
  InvokeResult r = invoke(s, "{}");
  EXPECT_EQ(r.status, InvokeResult::kRuntimeExit);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.term_signal, 9);
  EXPECT_EQ(r.error_type, "Runtime.ExitError");  // killed, but not by the OOM killer
  EXPECT_TRUE(contains(r.payload, "Runtime exited with error: signal: killed")) << r.payload;
  EXPECT_EQ(r.logs, "about to die\n");
}

TEST_F(AgentRuntimeTest, ProvidedWithoutBootstrapIsAnInvalidEntrypoint) {
  AgentSession s = start_agent();
  auto init = s.init_runtime(init_request("provided", ""), kRpc);
  ASSERT_TRUE(init.ok()) << init.error().message();
  EXPECT_FALSE(init->ok);
  EXPECT_EQ(init->error_type, "Runtime.InvalidEntrypoint");
  EXPECT_TRUE(contains(init->error_body, "Couldn't find valid bootstrap(s): [" + task_root_ +
                                             "/bootstrap]: no such file"))
      << init->error_body;
}

TEST_F(AgentRuntimeTest, BootstrapThatIsNotExecutableIsAnInvalidEntrypoint) {
  write_file("bootstrap", kEchoBootstrap, 0644);
  AgentSession s = start_agent();
  auto init = s.init_runtime(init_request("provided.al2", ""), kRpc);
  ASSERT_TRUE(init.ok()) << init.error().message();
  EXPECT_FALSE(init->ok);
  EXPECT_EQ(init->error_type, "Runtime.InvalidEntrypoint");
  EXPECT_TRUE(contains(init->error_body, "not an executable")) << init->error_body;
}

TEST_F(AgentRuntimeTest, BootstrapThatExitsDuringInitIsAnExitError) {
  write_file("bootstrap", "#!/bin/sh\necho 'cannot start' >&2\nexit 2\n", 0755);
  AgentSession s = start_agent();
  auto init = s.init_runtime(init_request("provided", ""), kRpc);
  ASSERT_TRUE(init.ok()) << init.error().message();
  EXPECT_FALSE(init->ok);
  EXPECT_EQ(init->error_type, "Runtime.ExitError");
  EXPECT_EQ(
      init->error_body,
      R"({"errorMessage":"Runtime exited with error: exit status 2","errorType":"Runtime.ExitError"})");
  EXPECT_EQ(init->logs, "cannot start\n");
}

TEST_F(AgentRuntimeTest, InitTimeoutKillsTheRuntime) {
  write_file("app.py",
             "import os, time\nopen('pid', 'w').write(str(os.getpid()))\n"
             "print('sleeping', flush=True)\ntime.sleep(30)\n");
  AgentSession s = start_agent();
  InitRuntime request = init_request("python3.11", "app.handler");
  request.init_timeout_ms = 1500;  // ample for Python to start and print
  auto start = std::chrono::steady_clock::now();
  auto init = s.init_runtime(request, kRpc);
  ASSERT_TRUE(init.ok()) << init.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(6));
  EXPECT_FALSE(init->ok);
  EXPECT_EQ(init->error_type, "Sandbox.Timedout");
  EXPECT_TRUE(contains(init->error_body, "Init phase timed out after 1.50 seconds"));
  EXPECT_GE(init->init_duration_ns, 1'500'000'000u);
  EXPECT_TRUE(contains(init->logs, "sleeping")) << init->logs;
  std::string pid;
  std::ifstream(task_root_ + "/pid") >> pid;
  ASSERT_FALSE(pid.empty());
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = ::access(("/proc/" + pid).c_str(), F_OK) != 0;  // killed and reaped
    if (!gone) std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(gone) << "runtime " << pid << " still there";
}

TEST_F(AgentRuntimeTest, SixMegabytePayloadsRoundTripAndLargerResponsesFail) {
  write_file("app.py", R"(def handler(event, context):
    if isinstance(event, dict):
        return event["data"] * 2
    return event
)");
  AgentSession s = start_runtime("python3.11", "app.handler");
  std::string big = "\"" + std::string(kMaxInvokePayload - 2, 'x') + "\"";
  InvokeResult r = invoke(s, big);
  EXPECT_EQ(r.status, InvokeResult::kSuccess) << r.payload.substr(0, 200);
  EXPECT_EQ(r.payload.size(), big.size());
  EXPECT_TRUE(r.payload == big);

  InvokeResult too_big = invoke(s, R"({"data": ")" + std::string(4u << 20, 'y') + "\"}");
  EXPECT_EQ(too_big.status, InvokeResult::kFunctionError);
  EXPECT_EQ(too_big.error_type, "Function.ResponseSizeTooLarge");
  EXPECT_TRUE(contains(too_big.payload, "Response payload size exceeded maximum allowed"))
      << too_big.payload;
  EXPECT_EQ(invoke(s, R"("small")").payload, R"("small")");  // the runtime went on

  auto refused = s.invoke(invoke_request(std::string(kMaxInvokePayload + 1, 'z')), kRpc);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.error().message(), "exceeds the limit"))
      << refused.error().message();
}

TEST_F(AgentRuntimeTest, MalformedHttpGets400AndTheRuntimeApiStaysUp) {
  write_file("app.py", R"(import os
def handler(event, context):
    return os.environ["AWS_LAMBDA_RUNTIME_API"]
)");
  AgentSession s = start_runtime("python3.11", "app.handler");
  std::string address = invoke(s, "{}").payload;  // "127.0.0.1:<port>" as JSON
  ASSERT_TRUE(address.starts_with("\"127.0.0.1:")) << address;
  uint16_t port = static_cast<uint16_t>(std::stoi(address.substr(11)));

  EXPECT_TRUE(http_exchange(port, "GARBAGE\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_TRUE(
      http_exchange(port, "GET / HTTP/1.1\r\nBad Header\r\n\r\n").starts_with("HTTP/1.1 400"));
  std::string not_found =
      http_exchange(port, "GET /2018-06-01/nope HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(not_found.starts_with("HTTP/1.1 404 Not Found\r\n")) << not_found;
  std::string wrong_id =
      http_exchange(port,
                    "POST /2018-06-01/runtime/invocation/nobody/response HTTP/1.1\r\n"
                    "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  EXPECT_TRUE(wrong_id.starts_with("HTTP/1.1 400 Bad Request\r\n")) << wrong_id;
  EXPECT_TRUE(contains(wrong_id, R"("errorType":"InvalidRequestID")")) << wrong_id;
  std::string late_init_error =
      http_exchange(port,
                    "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 2\r\n"
                    "Connection: close\r\n\r\n{}");
  EXPECT_TRUE(late_init_error.starts_with("HTTP/1.1 403 Forbidden\r\n")) << late_init_error;
  std::string huge = http_exchange(port,
                                   "POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\n"
                                   "Content-Length: 99999999\r\n\r\n");
  EXPECT_TRUE(huge.starts_with("HTTP/1.1 413 Payload Too Large\r\n")) << huge;

  InvokeResult r = invoke(s, "{}");  // the runtime's own connection was never disturbed
  EXPECT_EQ(r.status, InvokeResult::kSuccess);
  EXPECT_EQ(r.payload, address);
}

TEST_F(AgentRuntimeTest, InvokeArrivesOnAnotherSessionAndInitIsRefusedTwice) {
  write_file("app.py", "def handler(event, context):\n    return event\n");
  AgentSession first = start_agent();
  auto early = first.invoke(invoke_request("{}"), kRpc);
  ASSERT_FALSE(early.ok());
  EXPECT_TRUE(contains(early.error().message(), "has not finished its init"))
      << early.error().message();
  auto init = first.init_runtime(init_request("python3.11", "app.handler"), kRpc);
  ASSERT_TRUE(init.ok() && init->ok);

  // As after a snapshot restore: a new session, no InitRuntime on it.
  AgentSession second = connect();
  InvokeResult r = invoke(second, R"({"via": "second"})");
  EXPECT_EQ(r.status, InvokeResult::kSuccess);
  EXPECT_EQ(r.payload, R"({"via": "second"})");

  auto again = second.init_runtime(init_request("python3.11", "app.handler"), kRpc);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(contains(again.error().message(), "already started")) << again.error().message();
  auto unknown = connect().init_runtime(init_request("cobol", "x.y"), kRpc);
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(contains(unknown.error().message(), "unknown runtime 'cobol'"));
}

TEST_F(AgentRuntimeTest, OneInvocationAtATimeAndTimeoutsAreDistinguishable) {
  write_file("app.py",
             "import time\ndef handler(event, context):\n    time.sleep(event)\n"
             "    return event\n");
  AgentSession slow = start_runtime("python3.11", "app.handler");
  AgentSession other = connect();
  auto running =
      std::async(std::launch::async, [&] { return slow.invoke(invoke_request("1"), kRpc); });
  std::this_thread::sleep_for(milliseconds(300));
  auto refused = other.invoke(invoke_request("0"), kRpc);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.error().message(), "already running")) << refused.error().message();
  auto done = running.get();
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(done->payload, "1");

  auto timed_out = other.invoke(invoke_request("2"), milliseconds(200));
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.error().code, ETIMEDOUT);
}

}  // namespace
}  // namespace ember::host
