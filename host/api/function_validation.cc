// Function name resolution and configuration checks, with Lambda's error types and wording.
#include "host/api/function_validation.h"

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "host/events/redis_arn.h"

namespace ember::host {
namespace {

constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxArnLength = 170;
constexpr size_t kMaxEnvironmentBytes = 4096;

constexpr char kNamePattern[] =
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?"
    "(\\d{12}:)?(function:)?([a-zA-Z0-9_-]+)(:(\\$LATEST|[a-zA-Z0-9_-]+))?";
constexpr char kRolePattern[] = "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+";
constexpr char kEnvironmentKeyPattern[] = "[a-zA-Z]([a-zA-Z0-9_])+";

// Keys the runtime sets itself; Lambda refuses them in Environment.Variables.
// clang-format off
const std::set<std::string> kReservedEnvironmentKeys = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"};
// clang-format on

ApiStatus check_range(const char* field, int64_t value, int64_t min, int64_t max) {
  if (value < min) {
    return constraint_violation(
        field, std::to_string(value),
        "Member must have value greater than or equal to " + std::to_string(min));
  }
  if (value > max) {
    return constraint_violation(
        field, std::to_string(value),
        "Member must have value less than or equal to " + std::to_string(max));
  }
  return {};
}

ApiStatus check_runtime(const std::string& runtime) {
  for (const char* supported : kSupportedRuntimes) {
    if (runtime == supported) return {};
  }
  std::string list;
  for (const char* supported : kSupportedRuntimes)
    list += (list.empty() ? "" : ", ") + std::string(supported);
  return invalid_parameter("The runtime parameter of " + runtime +
                           " is not supported by Ember. Supported runtimes: " + list + ".");
}

ApiStatus check_environment(const std::map<std::string, std::string>& environment) {
  static const std::regex key_pattern(kEnvironmentKeyPattern);
  std::string reserved;
  for (const auto& [key, value] : environment) {
    if (!std::regex_match(key, key_pattern)) {
      return validation_error(
          "1 validation error detected: Value at 'environment.variables' failed to satisfy "
          "constraint: Map keys must satisfy constraint: [Member must satisfy regular "
          "expression pattern: " +
          std::string(kEnvironmentKeyPattern) + "] (key '" + key + "')");
    }
    if (kReservedEnvironmentKeys.contains(key)) reserved += (reserved.empty() ? "" : ", ") + key;
  }
  if (!reserved.empty()) {
    return invalid_parameter(
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not supported "
        "for modification. Reserved keys used in this request: " +
        reserved);
  }
  const std::string measured = nlohmann::json(environment).dump();
  if (measured.size() > kMaxEnvironmentBytes) {
    return invalid_parameter(
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided exceeded the 4KB limit. String measured: " +
        measured);
  }
  return {};
}

}  // namespace

std::string function_arn(const std::string& region, const std::string& name) {
  return "arn:aws:lambda:" + region + ":000000000000:function:" + name;
}

ApiError function_not_found(const std::string& region, const std::string& name) {
  return resource_not_found("Function not found: " + function_arn(region, name));
}

ApiResult<std::string> resolve_function_name(std::string_view given, std::string_view qualifier,
                                             const std::string& region) {
  static const std::regex name_pattern(kNamePattern);
  const std::string text(given);
  std::smatch match;
  if (text.size() > kMaxArnLength) {
    return constraint_violation(
        "functionName", text,
        "Member must have length less than or equal to " + std::to_string(kMaxArnLength));
  }
  if (text.empty() || !std::regex_match(text, match, name_pattern)) {
    return constraint_violation(
        "functionName", text,
        "Member must satisfy regular expression pattern: " + std::string(kNamePattern));
  }
  const std::string name = match[10].str();
  const std::string name_qualifier = match[12].str();
  if (name.size() > kMaxNameLength) {
    return constraint_violation(
        "functionName", text,
        "Member must have length less than or equal to " + std::to_string(kMaxNameLength));
  }
  static const std::regex qualifier_pattern("(|[a-zA-Z0-9$_-]+)");
  const std::string query_qualifier(qualifier);
  if (query_qualifier.size() > 128 || !std::regex_match(query_qualifier, qualifier_pattern)) {
    return constraint_violation("qualifier", query_qualifier,
                                "Member must satisfy regular expression pattern: "
                                "(|[a-zA-Z0-9$_-]+)");
  }
  if (!name_qualifier.empty() && !query_qualifier.empty() && name_qualifier != query_qualifier) {
    return invalid_parameter(
        "The derived qualifier from the function name does not match the specified qualifier.");
  }
  const std::string effective = name_qualifier.empty() ? query_qualifier : name_qualifier;
  if (!effective.empty() && effective != "$LATEST") {
    return resource_not_found("Function not found: " + function_arn(region, name) + ":" +
                              effective + " (Ember keeps only $LATEST)");
  }
  return name;
}

ApiStatus validate_configuration(const FunctionRecord& r) {
  EMBER_CHECK(check_runtime(r.runtime));
  static const std::regex handler_pattern("[^\\s]+");
  if (r.handler.size() > 128) {
    return constraint_violation("handler", r.handler,
                                "Member must have length less than or equal to 128");
  }
  if (!std::regex_match(r.handler, handler_pattern)) {
    return constraint_violation("handler", r.handler,
                                "Member must satisfy regular expression pattern: [^\\s]+");
  }
  static const std::regex role_pattern(kRolePattern);
  if (!std::regex_match(r.role, role_pattern)) {
    return constraint_violation(
        "role", r.role,
        "Member must satisfy regular expression pattern: " + std::string(kRolePattern));
  }
  if (r.description.size() > 256) {
    return constraint_violation("description", r.description,
                                "Member must have length less than or equal to 256");
  }
  EMBER_CHECK(check_range("memorySize", r.memory_mb, 128, 10240));
  EMBER_CHECK(check_range("timeout", r.timeout_s, 1, 900));
  EMBER_CHECK(check_range("ephemeralStorage.size", r.ephemeral_mb, 512, 10240));
  if (r.tracing_mode != "Active" && r.tracing_mode != "PassThrough") {
    return constraint_violation("tracingConfig.mode", r.tracing_mode,
                                "Member must satisfy enum value set: [Active, PassThrough]");
  }
  EMBER_CHECK(check_function_target(r.dead_letter_arn, "DeadLetterConfig.TargetArn"));
  return check_environment(r.environment);
}

ApiStatus check_function_target(const std::string& arn, const std::string& what) {
  static const std::regex function_arn_pattern(
      "arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\\d{12}:function:[a-zA-Z0-9_-]{1,64}(:\\$LATEST)?");
  if (arn.empty() || std::regex_match(arn, function_arn_pattern)) return {};
  if (looks_like_redis_arn(arn)) {
    auto redis = parse_redis_arn(arn);
    if (redis.ok()) return {};
    return invalid_parameter("The " + what + " " + redis.error().context);
  }
  return invalid_parameter("The " + what + " " + arn +
                           " is not supported: Ember delivers events to Ember functions and "
                           "Redis streams; give a function ARN such as arn:aws:lambda:us-east-1:"
                           "000000000000:function:my-function or arn:ember:redis:::SERVER/"
                           "stream/KEY");
}

}  // namespace ember::host
