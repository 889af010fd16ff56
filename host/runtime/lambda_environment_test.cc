// Tests of the runtime's environment variables and the memory-to-CPU rule.
#include "host/runtime/lambda_environment.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ember::host {
namespace {

bool has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

TEST(LambdaEnvironment, ReservedVariablesAndTheFunctionsOwn) {
  FunctionSpec fn;
  fn.name = "hello";
  fn.runtime = "python3.11";
  fn.handler = "app.handler";
  fn.memory_mb = 256;
  fn.env = {{"GREETING", "hi"}, {"TZ", "Europe/Paris"}};
  const auto env = lambda_environment(fn, "eu-west-1");
  EXPECT_TRUE(has(env, "_HANDLER=app.handler"));
  EXPECT_TRUE(has(env, "LAMBDA_TASK_ROOT=/var/task"));
  EXPECT_TRUE(has(env, "AWS_LAMBDA_FUNCTION_NAME=hello"));
  EXPECT_TRUE(has(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256"));
  EXPECT_TRUE(has(env, "AWS_LAMBDA_FUNCTION_VERSION=$LATEST"));
  EXPECT_TRUE(has(env, "AWS_REGION=eu-west-1"));
  EXPECT_TRUE(has(env, "AWS_EXECUTION_ENV=AWS_Lambda_python3.11"));
  EXPECT_TRUE(has(env, "GREETING=hi"));
  EXPECT_TRUE(has(env, "TZ=UTC"));
  EXPECT_FALSE(has(env, "TZ=Europe/Paris")) << "a function variable overrode a reserved one";
}

}  // namespace
}  // namespace ember::host
