// End-to-end tests of AgentSession::init_runtime/invoke with the real ember-agent running the
// real Python and Node bootstraps: values, context, logs, errors, init failures.
#include <regex>

#include "host/agent_client_runtime_fixture.h"

namespace ember::host {
namespace {

TEST_F(AgentRuntimeTest, PythonHandlerReturnsAValueWithItsContextAndLogs) {
  write_file("app.py", R"(import os
print("init-time print")
def handler(event, context):
    print("handling", event["name"])
    return {"hello": event["name"], "request_id": context.aws_request_id,
            "function": context.function_name, "memory": context.memory_limit_in_mb,
            "remaining_ok": 20000 < context.get_remaining_time_in_millis() <= 30000,
            "arn": context.invoked_function_arn, "log_group": context.log_group_name,
            "cwd": os.getcwd(), "task_root": os.environ["LAMBDA_TASK_ROOT"]}
)");
  AgentSession s = start_agent();
  auto init = s.init_runtime(init_request("python3.11", "app.handler"), kRpc);
  ASSERT_TRUE(init.ok()) << init.error().message();
  ASSERT_TRUE(init->ok) << init->error_body << init->logs;
  EXPECT_EQ(init->logs, "init-time print\n");
  EXPECT_GT(init->init_duration_ns, 1'000'000u);

  InvokeResult r = invoke(s, R"({"name": "world"})");
  EXPECT_EQ(r.status, InvokeResult::kSuccess) << r.payload;
  EXPECT_TRUE(contains(r.payload, R"("hello": "world")")) << r.payload;
  EXPECT_TRUE(contains(r.payload, R"("request_id": "req-1")")) << r.payload;
  EXPECT_TRUE(contains(r.payload, R"("function": "fn", "memory": "128")")) << r.payload;
  EXPECT_TRUE(contains(r.payload, R"("remaining_ok": true)")) << r.payload;
  EXPECT_TRUE(contains(r.payload, R"("arn": "arn:aws:lambda:us-east-1:000000000000:function:fn")"));
  EXPECT_TRUE(contains(r.payload, R"("log_group": "/aws/lambda/fn")")) << r.payload;
  EXPECT_TRUE(contains(r.payload, "\"cwd\": \"" + task_root_ + "\"")) << r.payload;
  EXPECT_TRUE(contains(r.payload, "\"task_root\": \"" + task_root_ + "\"")) << r.payload;
  EXPECT_EQ(r.logs, "handling world\n");
  EXPECT_TRUE(r.error_type.empty());
  EXPECT_GT(r.duration_ns, 0u);
  EXPECT_LT(r.duration_ns, 5'000'000'000u);
  EXPECT_GT(r.max_memory_used_bytes, 4u << 20);  // a Python interpreter's resident set
  EXPECT_LT(r.max_memory_used_bytes, 512u << 20);

  // The runtime goes back to `next`; each result carries only its own output.
  InvokeResult again = invoke(s, R"({"name": "again"})");
  EXPECT_EQ(again.status, InvokeResult::kSuccess);
  EXPECT_TRUE(contains(again.payload, R"("request_id": "req-2")")) << again.payload;
  EXPECT_EQ(again.logs, "handling again\n");
}

TEST_F(AgentRuntimeTest, PythonExceptionIsAFunctionErrorWithItsStackTrace) {
  write_file("app.py", R"(def helper(value):
    raise ValueError("bad input: " + value)

def handler(event, context):
    helper(event)
)");
  AgentSession s = start_runtime("python3.11", "app.handler");
  InvokeResult r = invoke(s, R"("x")");
  EXPECT_EQ(r.status, InvokeResult::kFunctionError);
  EXPECT_EQ(r.error_type, "ValueError");
  EXPECT_TRUE(contains(r.payload, R"("errorMessage": "bad input: x")")) << r.payload;
  EXPECT_TRUE(contains(r.payload, R"("errorType": "ValueError")")) << r.payload;
  // Both frames of the user's code, none of the bootstrap's.
  std::regex frames(
      R"re("stackTrace": \[".*app.py\\", line 5, in handler.*app.py\\", line 2, in helper)re");
  EXPECT_TRUE(std::regex_search(r.payload, frames)) << r.payload;
  EXPECT_FALSE(contains(r.payload, "bootstrap.py")) << r.payload;
  EXPECT_TRUE(contains(r.logs, "[ERROR] ValueError: bad input: x")) << r.logs;
}

TEST_F(AgentRuntimeTest, PythonResultThatIsNotJsonIsAMarshalError) {
  write_file("app.py", "def handler(event, context):\n    return {'when': object()}\n");
  AgentSession s = start_runtime("python3.11", "app.handler");
  InvokeResult r = invoke(s, "{}");
  EXPECT_EQ(r.status, InvokeResult::kFunctionError);
  EXPECT_EQ(r.error_type, "Runtime.MarshalError");
  EXPECT_TRUE(contains(r.payload, "Unable to marshal response: Object of type object is not JSON"))
      << r.payload;
  EXPECT_EQ(invoke(s, "{}").status, InvokeResult::kFunctionError);  // and the runtime goes on
}

TEST_F(AgentRuntimeTest, PythonImportErrorFailsTheInit) {
  write_file("app.py", "print('importing app')\nimport no_such_module_ember\n");
  AgentSession s = start_agent();
  auto init = s.init_runtime(init_request("python3.11", "app.handler"), kRpc);
  ASSERT_TRUE(init.ok()) << init.error().message();
  EXPECT_FALSE(init->ok);
  EXPECT_EQ(init->error_type, "Runtime.ImportModuleError");
  EXPECT_TRUE(contains(init->error_body,
                       "Unable to import module 'app': No module named 'no_such_module_ember'"))
      << init->error_body;
  EXPECT_TRUE(contains(init->logs, "importing app\n")) << init->logs;
  EXPECT_TRUE(contains(init->logs, "[ERROR] Runtime.ImportModuleError")) << init->logs;

  auto r = s.invoke(invoke_request("{}"), kRpc);  // nothing to invoke
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message(), "failed to initialize")) << r.error().message();
}

TEST_F(AgentRuntimeTest, PythonMissingHandlerFailsTheInit) {
  write_file("pkg/__init__.py", "");
  write_file("pkg/mod.py", "def other(event, context):\n    return 1\n");
  AgentSession s = start_agent();
  auto init = s.init_runtime(init_request("python3.11", "pkg.mod.handler"), kRpc);
  ASSERT_TRUE(init.ok()) << init.error().message();
  EXPECT_FALSE(init->ok);
  EXPECT_EQ(init->error_type, "Runtime.HandlerNotFound");
  EXPECT_TRUE(contains(init->error_body, "Handler 'handler' missing on module 'pkg.mod'"))
      << init->error_body;
}

TEST_F(AgentRuntimeTest, PythonDottedModulePathIsImported) {
  write_file("pkg/__init__.py", "");
  write_file("pkg/mod.py", "def handler(event, context):\n    return {'from': __name__}\n");
  AgentSession s = start_runtime("python3.11", "pkg/mod.handler");
  InvokeResult r = invoke(s, "{}");
  EXPECT_EQ(r.status, InvokeResult::kSuccess);
  EXPECT_EQ(r.payload, R"({"from": "pkg.mod"})");
}

TEST_F(AgentRuntimeTest, NodeAsyncHandler) {
  write_file("index.js", R"(console.log('loading');
exports.handler = async (event, context) => {
  console.log('node got', event.n);
  return { doubled: event.n * 2, id: context.awsRequestId, fn: context.functionName,
           remaining: context.getRemainingTimeInMillis() > 20000 };
};
)");
  AgentSession s = start_agent();
  auto init = s.init_runtime(init_request("nodejs18.x", "index.handler"), kRpc);
  ASSERT_TRUE(init.ok()) << init.error().message();
  ASSERT_TRUE(init->ok) << init->error_body << init->logs;
  EXPECT_TRUE(contains(init->logs, "\tundefined\tINFO\tloading\n")) << init->logs;
  InvokeResult r = invoke(s, R"({"n": 21})");
  EXPECT_EQ(r.status, InvokeResult::kSuccess) << r.payload;
  EXPECT_EQ(r.payload, R"({"doubled":42,"id":"req-1","fn":"fn","remaining":true})");
  EXPECT_TRUE(contains(r.logs, "\treq-1\tINFO\tnode got 21\n")) << r.logs;
  EXPECT_GT(r.max_memory_used_bytes, 4u << 20);
}

TEST_F(AgentRuntimeTest, NodeCallbackHandlerWaitsForTheEmptyEventLoop) {
  write_file("cb.js", R"(exports.handler = (event, context, callback) => {
  if (event.mode === 'late') return setTimeout(() => callback(null, { late: true }), 50);
  setTimeout(() => console.log('timer done'), 400);  // keeps the loop busy after the answer
  if (event.mode === 'nowait') context.callbackWaitsForEmptyEventLoop = false;
  callback(null, { mode: event.mode });
};
)");
  AgentSession s = start_runtime("nodejs18.x", "cb.handler");
  InvokeResult late = invoke(s, R"({"mode": "late"})");
  EXPECT_EQ(late.status, InvokeResult::kSuccess);
  EXPECT_EQ(late.payload, R"({"late":true})");

  InvokeResult waits = invoke(s, R"({"mode": "wait"})");
  EXPECT_EQ(waits.payload, R"({"mode":"wait"})");
  EXPECT_GE(waits.duration_ns, 350'000'000u);  // answered once the timer ran
  EXPECT_TRUE(contains(waits.logs, "timer done")) << waits.logs;

  InvokeResult quick = invoke(s, R"({"mode": "nowait"})");
  EXPECT_EQ(quick.payload, R"({"mode":"nowait"})");
  EXPECT_LT(quick.duration_ns, 350'000'000u);
}

TEST_F(AgentRuntimeTest, NodeErrorsCarryTheirNameAndTrace) {
  write_file("index.mjs", R"(export const handler = async (event) => {
  if (event.kind === 'callback') return null;
  null.property;
};
)");
  AgentSession s = start_runtime("nodejs18.x", "index.handler");
  InvokeResult r = invoke(s, R"({"kind": "throw"})");
  EXPECT_EQ(r.status, InvokeResult::kFunctionError);
  EXPECT_EQ(r.error_type, "TypeError");
  EXPECT_TRUE(contains(r.payload, R"("errorType":"TypeError")")) << r.payload;
  EXPECT_TRUE(contains(r.payload, R"("trace":["TypeError: Cannot read properties of null)"))
      << r.payload;
  EXPECT_TRUE(contains(r.payload, "index.mjs:3")) << r.payload;
  InvokeResult ok = invoke(s, R"({"kind": "callback"})");
  EXPECT_EQ(ok.status, InvokeResult::kSuccess);
  EXPECT_EQ(ok.payload, "null");
}

TEST_F(AgentRuntimeTest, NodeMissingModuleFailsTheInit) {
  AgentSession s = start_agent();
  auto init = s.init_runtime(init_request("nodejs18.x", "nothere.handler"), kRpc);
  ASSERT_TRUE(init.ok()) << init.error().message();
  EXPECT_FALSE(init->ok);
  EXPECT_EQ(init->error_type, "Runtime.ImportModuleError");
  EXPECT_TRUE(contains(init->error_body, "Cannot find module 'nothere'")) << init->error_body;
}

// A Refresh before init is the host's after a boot; one after it is a restore, and the
// runtime reseeds before the next handler runs.
TEST_F(AgentRuntimeTest, PythonReseedsRandomAfterARestoreOnly) {
  write_file("app.py",
             "import random\n"
             "random.seed(7)\n"
             "shadow = random.Random(7)  # what random would draw without a reseed\n"
             "def handler(event, context):\n"
             "    return [random.random(), shadow.random()]\n");
  AgentSession s = start_runtime("python3.11", "app.handler", /*boot_refresh=*/true);
  auto draws = [&] {
    InvokeResult r = invoke(s, "{}");
    EXPECT_EQ(r.status, InvokeResult::kSuccess) << r.payload;
    auto comma = r.payload.find(", ");
    return std::pair(r.payload.substr(1, comma - 1),
                     r.payload.substr(comma + 2, r.payload.size() - comma - 3));
  };
  auto [first, first_shadow] = draws();
  EXPECT_EQ(first, first_shadow);
  ASSERT_TRUE(s.refresh(kRpc).ok());
  auto [second, second_shadow] = draws();
  EXPECT_NE(second, second_shadow);
}

TEST_F(AgentRuntimeTest, NodeReplacesMathRandomAfterARestoreOnly) {
  write_file("index.js",
             "const original = Math.random;\n"
             "exports.handler = async () => {\n"
             "  const value = Math.random();\n"
             "  return { replaced: Math.random !== original, ok: value >= 0 && value < 1 };\n"
             "};\n");
  AgentSession s = start_runtime("nodejs18.x", "index.handler", /*boot_refresh=*/true);
  EXPECT_EQ(invoke(s, "{}").payload, R"({"replaced":false,"ok":true})");
  ASSERT_TRUE(s.refresh(kRpc).ok());
  EXPECT_EQ(invoke(s, "{}").payload, R"({"replaced":true,"ok":true})");
}

}  // namespace
}  // namespace ember::host
