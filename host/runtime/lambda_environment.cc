// lambda_environment: Lambda's reserved variables plus the function's own.
#include "host/runtime/lambda_environment.h"

#include <algorithm>
#include <set>

namespace ember::host {
namespace {


std::string execution_env(const std::string& runtime) {
  return "AWS_Lambda_" + runtime;
}

}  // namespace

std::vector<std::string> lambda_environment(const FunctionSpec& fn, const std::string& region) {
  const std::vector<std::pair<std::string, std::string>> reserved = {
      {"_HANDLER", fn.handler},
      {"LAMBDA_TASK_ROOT", kTaskRoot},
      {"LAMBDA_RUNTIME_DIR", "/opt/ember/runtimes"},
      {"AWS_EXECUTION_ENV", execution_env(fn.runtime)},
      {"AWS_LAMBDA_FUNCTION_NAME", fn.name},
      {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", std::to_string(fn.memory_mb)},
      {"AWS_LAMBDA_FUNCTION_VERSION", kLatestVersion},
      {"AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"},
      {"AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" + fn.name},
      {"AWS_LAMBDA_LOG_STREAM_NAME", "ember/[$LATEST]" + fn.revision_id},
      {"AWS_REGION", region},
      {"AWS_DEFAULT_REGION", region},
      {"TZ", "UTC"},
      {"LANG", "C.UTF-8"},
      {"PATH", "/usr/local/bin:/usr/bin:/bin:/opt/bin"},
      {"LD_LIBRARY_PATH", "/var/task:/var/task/lib:/opt/lib"},
      {"HOME", "/tmp"},
  };
  std::vector<std::string> env;
  std::set<std::string> names;
  for (const auto& [key, value] : reserved) {
    env.push_back(key + "=" + value);
    names.insert(key);
  }
  for (const auto& [key, value] : fn.env) {
    if (!names.contains(key)) env.push_back(key + "=" + value);
  }
  return env;
}

}  // namespace ember::host
