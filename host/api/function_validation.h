// Lambda's rules for function names, qualifiers and configuration values.
#pragma once

#include <string>
#include <string_view>

#include "host/api/api_error.h"
#include "host/store/function_record.h"

namespace ember::host {

// Runtimes Ember's guest image provides.
inline constexpr const char* kSupportedRuntimes[] = {"python3.11", "nodejs18.x", "provided",
                                                     "provided.al2"};

// The function name in a name ("my-function"), partial ARN
// ("123456789012:function:my-function") or ARN ("arn:aws:lambda:us-east-1:123456789012:
// function:my-function"), optionally with ":<qualifier>", combined with the Qualifier query
// parameter (may be empty). Only $LATEST exists: another qualifier is
// ResourceNotFoundException; a malformed name ValidationException; a qualifier in the name
// that differs from the query's InvalidParameterValueException.
ApiResult<std::string> resolve_function_name(std::string_view given, std::string_view qualifier,
                                             const std::string& region);

// "arn:aws:lambda:<region>:000000000000:function:<name>".
std::string function_arn(const std::string& region, const std::string& name);

// "Function not found: <arn>", 404.
ApiError function_not_found(const std::string& region, const std::string& name);

// The target of events (a destination or a dead-letter target): "" means none; an Ember
// function's ARN (arn:aws:lambda:<region>:<account>:function:<name>) or a Redis stream's
// (arn:ember:redis:::SERVER/stream/KEY, or .../queue/KEY); anything else is
// InvalidParameterValueException naming `what` and the ARN.
ApiStatus check_function_target(const std::string& arn, const std::string& what);

// Checks every configuration value of a function about to be stored: runtime, handler,
// role, description, memory, timeout, ephemeral storage, environment, tracing mode.
ApiStatus validate_configuration(const FunctionRecord& record);

}  // namespace ember::host
