// The environment variables a function's runtime starts with, as Lambda sets them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/api/invoker.h"

namespace ember::host {

inline constexpr const char* kTaskRoot = "/var/task";
inline constexpr const char* kLatestVersion = "$LATEST";

// Lambda's reserved variables (AWS_LAMBDA_FUNCTION_NAME, _HANDLER, LAMBDA_TASK_ROOT, TZ,
// ...) and then the function's own, as "KEY=VALUE". A function variable never overrides a
// reserved one (emberd's validation refuses those names anyway). AWS_LAMBDA_RUNTIME_API is
// added by the agent, which knows its own address.
std::vector<std::string> lambda_environment(const FunctionSpec& fn, const std::string& region);

}  // namespace ember::host
