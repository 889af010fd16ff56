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

// vCPUs for a memory size: one per 1769 MB started, as Lambda scales CPU with memory.
uint32_t vcpus_for_memory(uint32_t memory_mb);
// The CPU share for a memory size in units of one CPU (1769 MB = 1.0), for cgroup cpu.max.
double cpu_share_for_memory(uint32_t memory_mb);

}  // namespace ember::host
