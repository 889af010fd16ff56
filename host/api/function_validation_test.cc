// Tests for function name resolution and the configuration bounds, with Lambda's error types.
#include "host/api/function_validation.h"

#include <gtest/gtest.h>

namespace ember::host {
namespace {

const std::string kRegion = "us-east-1";

std::string type_of(const ApiResult<std::string>& result) {
  return result.ok() ? "ok:" + result.value() : result.error().type;
}

TEST(ResolveFunctionName, AcceptsNamesPartialAndFullArns) {
  EXPECT_EQ(type_of(resolve_function_name("my-function_1", "", kRegion)), "ok:my-function_1");
  EXPECT_EQ(type_of(resolve_function_name("123456789012:function:f", "", kRegion)), "ok:f");
  EXPECT_EQ(type_of(resolve_function_name("arn:aws:lambda:us-east-1:000000000000:function:f", "",
                                          kRegion)),
            "ok:f");
  EXPECT_EQ(type_of(resolve_function_name(
                "arn:aws:lambda:eu-west-1:123456789012:function:f:$LATEST", "", kRegion)),
            "ok:f");
  EXPECT_EQ(type_of(resolve_function_name("f:$LATEST", "$LATEST", kRegion)), "ok:f");
  EXPECT_EQ(type_of(resolve_function_name("f", "$LATEST", kRegion)), "ok:f");
}

TEST(ResolveFunctionName, OnlyLatestExists) {
  auto versioned = resolve_function_name("f:1", "", kRegion);
  ASSERT_FALSE(versioned.ok());
  EXPECT_EQ(versioned.error().status, 404);
  EXPECT_EQ(versioned.error().type, "ResourceNotFoundException");
  EXPECT_NE(versioned.error().message.find(
                "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f:1"),
            std::string::npos);
  EXPECT_EQ(type_of(resolve_function_name("f", "prod", kRegion)), "ResourceNotFoundException");
  EXPECT_EQ(type_of(resolve_function_name("f:1", "2", kRegion)), "InvalidParameterValueException");
}

TEST(ResolveFunctionName, RefusesMalformedNames) {
  EXPECT_EQ(type_of(resolve_function_name("", "", kRegion)), "ValidationException");
  EXPECT_EQ(type_of(resolve_function_name("has space", "", kRegion)), "ValidationException");
  EXPECT_EQ(type_of(resolve_function_name("a/b", "", kRegion)), "ValidationException");
  EXPECT_EQ(type_of(resolve_function_name(std::string(64, 'n'), "", kRegion)),
            "ok:" + std::string(64, 'n'));
  auto too_long = resolve_function_name(std::string(65, 'n'), "", kRegion);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().type, "ValidationException");
  EXPECT_NE(too_long.error().message.find("less than or equal to 64"), std::string::npos);
  EXPECT_EQ(type_of(resolve_function_name("f", "bad qualifier", kRegion)), "ValidationException");
}

FunctionRecord valid() {
  FunctionRecord r;
  r.name = "f";
  r.runtime = "python3.11";
  r.handler = "lambda_function.lambda_handler";
  r.role = "arn:aws:iam::123456789012:role/lambda-role";
  return r;
}

std::string problem(const FunctionRecord& r) {
  auto status = validate_configuration(r);
  return status.ok() ? "ok" : status.error().type + ": " + status.error().message;
}

TEST(ValidateConfiguration, AcceptsTheBoundsAndRefusesPastThem) {
  EXPECT_EQ(problem(valid()), "ok");
  auto with = [](auto change) {
    FunctionRecord r = valid();
    change(r);
    return problem(r);
  };
  EXPECT_EQ(with([](FunctionRecord& r) { r.memory_mb = 128; }), "ok");
  EXPECT_EQ(with([](FunctionRecord& r) { r.memory_mb = 10240; }), "ok");
  EXPECT_EQ(with([](FunctionRecord& r) { r.memory_mb = 127; }),
            "ValidationException: 1 validation error detected: Value '127' at 'memorySize' failed "
            "to satisfy constraint: Member must have value greater than or equal to 128");
  EXPECT_EQ(with([](FunctionRecord& r) { r.memory_mb = 10241; }).substr(0, 19),
            "ValidationException");
  EXPECT_EQ(with([](FunctionRecord& r) { r.timeout_s = 1; }), "ok");
  EXPECT_EQ(with([](FunctionRecord& r) { r.timeout_s = 900; }), "ok");
  EXPECT_NE(with([](FunctionRecord& r) { r.timeout_s = 0; }).find("'timeout'"), std::string::npos);
  EXPECT_NE(with([](FunctionRecord& r) { r.timeout_s = 901; }).find("less than or equal to 900"),
            std::string::npos);
  EXPECT_EQ(with([](FunctionRecord& r) { r.ephemeral_mb = 512; }), "ok");
  EXPECT_EQ(with([](FunctionRecord& r) { r.ephemeral_mb = 10240; }), "ok");
  EXPECT_NE(with([](FunctionRecord& r) { r.ephemeral_mb = 511; }).find("ephemeralStorage.size"),
            std::string::npos);
  EXPECT_NE(with([](FunctionRecord& r) { r.ephemeral_mb = 10241; }).find("ValidationException"),
            std::string::npos);
}

TEST(ValidateConfiguration, RuntimesHandlersRolesAndTracing) {
  auto with = [](auto change) {
    FunctionRecord r = valid();
    change(r);
    return problem(r);
  };
  for (const char* runtime : {"python3.11", "nodejs18.x", "provided", "provided.al2"}) {
    EXPECT_EQ(with([&](FunctionRecord& r) { r.runtime = runtime; }), "ok") << runtime;
  }
  EXPECT_NE(with([](FunctionRecord& r) { r.runtime = "java17"; })
                .find("InvalidParameterValueException: The runtime parameter of java17 is not "
                      "supported"),
            std::string::npos);
  EXPECT_NE(with([](FunctionRecord& r) { r.handler = "has space"; }).find("'handler'"),
            std::string::npos);
  EXPECT_NE(with([](FunctionRecord& r) { r.handler = std::string(129, 'h'); }).find("128"),
            std::string::npos);
  EXPECT_NE(with([](FunctionRecord& r) { r.role = "not-a-role"; }).find("'role'"),
            std::string::npos);
  EXPECT_NE(
      with([](FunctionRecord& r) { r.description = std::string(257, 'd'); }).find("'description'"),
      std::string::npos);
  EXPECT_EQ(with([](FunctionRecord& r) { r.tracing_mode = "Active"; }), "ok");
  EXPECT_NE(with([](FunctionRecord& r) { r.tracing_mode = "On"; }).find("ValidationException"),
            std::string::npos);
}

TEST(ValidateConfiguration, EnvironmentVariables) {
  auto with_env = [](std::map<std::string, std::string> env) {
    FunctionRecord r = valid();
    r.environment = std::move(env);
    return problem(r);
  };
  EXPECT_EQ(with_env({{"GREETING", "hi"}, {"A_1", ""}}), "ok");
  EXPECT_NE(with_env({{"1BAD", "x"}}).find("ValidationException"), std::string::npos);
  EXPECT_NE(with_env({{"AWS_REGION", "x"}})
                .find("InvalidParameterValueException: Lambda was unable to configure your "
                      "environment variables because the environment variables you have "
                      "provided contains reserved keys"),
            std::string::npos);
  // {"BIG":"..."} is 10 bytes of JSON around the value: 4086 fits, 4087 does not.
  EXPECT_EQ(with_env({{"BIG", std::string(4086, 'x')}}), "ok");
  EXPECT_NE(with_env({{"BIG", std::string(4087, 'x')}}).find("exceeded the 4KB limit"),
            std::string::npos);
}

}  // namespace
}  // namespace ember::host
