// BenchFunction: app.py, mkfs.erofs, and the InitRuntime / Invoke requests the paths send.
#include "tests/bench/bench_function.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "host/runtime/booted_vm.h"
#include "host/runtime/lambda_environment.h"
#include "host/vm_client.h"

namespace ember::bench {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFunctionName = "bench-coldstart";
constexpr std::chrono::minutes kMkfsTimeout{2};

// Imports enough of the standard library that init does real work, as a small real function
// would; the handler itself is trivial.
constexpr const char* kAppPy = R"(import base64
import datetime
import decimal
import email.parser
import hashlib
import json
import urllib.parse
import uuid


def handler(event, context):
    return {"ok": True, "echo": event}
)";

nlohmann::json event_for(uint32_t n) { return {{"n", n}, {"msg", "hello from bench-coldstart"}}; }

Status write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return make_error("write " + path);
  return {};
}

}  // namespace

Result<BenchFunction> BenchFunction::create(const std::string& dir, const std::string& mkfs_erofs,
                                            uint32_t memory_mb) {
  const std::string code = dir + "/code";
  std::error_code ec;
  fs::create_directories(code, ec);
  if (ec) return make_error("create " + code, ec.message());
  EMBER_CHECK(write_file(code + "/app.py", kAppPy));
  const std::string image = dir + "/code.erofs";
  Status packed =
      host::run_tool({mkfs_erofs, "--quiet", "--all-root", "-x-1", image, code}, kMkfsTimeout);
  if (!packed.ok()) return make_error("pack the code image", packed.error().message());
  if (::chmod(image.c_str(), 0644) != 0) return errno_error("chmod", image);
  return BenchFunction(image, memory_mb);
}

InitRuntime BenchFunction::init_request() const {
  host::FunctionSpec fn;
  fn.name = kFunctionName;
  fn.arn = std::string("arn:aws:lambda:us-east-1:000000000000:function:") + kFunctionName;
  fn.runtime = "python3.11";
  fn.handler = "app.handler";
  fn.memory_mb = memory_mb_;
  fn.revision_id = "bench";
  InitRuntime init;
  init.runtime = fn.runtime;
  init.handler = fn.handler;
  init.env = host::lambda_environment(fn, "us-east-1");
  init.code_device = host::kCodeDevice;
  init.task_root = host::kTaskRoot;
  init.init_timeout_ms = 300'000;  // emulated test hosts are slow; failing init is still seen
  return init;
}

Invoke BenchFunction::invoke_request(uint32_t n) const {
  Invoke invoke;
  invoke.request_id = "bench-coldstart-" + std::to_string(n);
  invoke.budget_ms = 60'000;
  invoke.invoked_function_arn =
      std::string("arn:aws:lambda:us-east-1:000000000000:function:") + kFunctionName;
  invoke.payload = event_for(n).dump();
  return invoke;
}

Status BenchFunction::check_response(const InvokeResult& result, uint32_t n) {
  const std::string what = "invocation " + std::to_string(n);
  if (result.status != InvokeResult::kSuccess) {
    return make_error(what, "failed (" + result.error_type + "): " + result.payload +
                                "; runtime output: " + result.logs);
  }
  const nlohmann::json expected = {{"ok", true}, {"echo", event_for(n)}};
  const nlohmann::json got = nlohmann::json::parse(result.payload, nullptr, false);
  if (got != expected) return make_error(what, "unexpected response " + result.payload);
  return {};
}

}  // namespace ember::bench
