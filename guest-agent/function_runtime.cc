// FunctionRuntime: the init and invoke sequences around the broker, the Runtime API server
// and the runtime process.
#include "guest-agent/function_runtime.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>

#include "guest-agent/init_system.h"
#include "guest-agent/monotonic_clock.h"
#include "guest-agent/process_spawn.h"

namespace ember::agent {
namespace {

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Request ids go into URL paths and headers: visible ASCII without path or query syntax.
bool is_valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '%') return false;
  }
  return true;
}

InitResult init_failure(std::string error_type, std::string_view message) {
  InitResult result;
  result.ok = false;
  result.error_body = lambda_error_json(error_type, message);
  result.error_type = std::move(error_type);
  return result;
}

std::string seconds_text(uint32_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", ms / 1000.0);
  return buf;
}

}  // namespace

Result<std::vector<std::string>> runtime_command(std::string_view runtime,
                                                 const std::string& runtimes_dir,
                                                 const std::string& task_root) {
  if (runtime == "python3.11") {
    return std::vector<std::string>{"/usr/bin/python3", runtimes_dir + "/python/bootstrap.py"};
  }
  if (runtime == "nodejs18.x") {
    return std::vector<std::string>{"/usr/bin/node", runtimes_dir + "/nodejs/bootstrap.js"};
  }
  if (runtime == "provided" || runtime == "provided.al2") {
    return std::vector<std::string>{task_root + "/bootstrap"};
  }
  return make_error("InitRuntime", "unknown runtime '" + std::string(runtime) +
                                       "' (python3.11, nodejs18.x, provided, provided.al2)");
}

std::vector<std::string> runtime_environment(const InitRuntime& request, uint16_t api_port) {
  std::vector<std::string> env;
  bool has_path = false;
  for (const std::string& entry : request.env) {
    std::string_view name = std::string_view(entry).substr(0, entry.find('='));
    if (name == "_HANDLER" || name == "LAMBDA_TASK_ROOT" || name == "AWS_LAMBDA_RUNTIME_API") {
      continue;
    }
    has_path = has_path || name == "PATH";
    env.push_back(entry);
  }
  if (!has_path) env.push_back(std::string("PATH=") + kDefaultPath);
  env.push_back("_HANDLER=" + request.handler);
  env.push_back("LAMBDA_TASK_ROOT=" + request.task_root);
  env.push_back("AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + std::to_string(api_port));
  return env;
}

FunctionRuntime::~FunctionRuntime() { stop(); }

void FunctionRuntime::stop() {
  broker_.close();
  std::lock_guard lock(mu_);
  if (process_ && !process_->exited()) process_->kill();
}

Result<InitResult> FunctionRuntime::init(const InitRuntime& request) {
  const uint64_t start = monotonic_ns();
  EMBER_TRY(std::vector<std::string> argv,
            runtime_command(request.runtime, config_.runtimes_dir, request.task_root));
  if (request.task_root.empty() || request.task_root[0] != '/') {
    return make_error("InitRuntime", "task_root must be an absolute path");
  }
  bool nul = has_nul(request.handler) || has_nul(request.task_root) || has_nul(request.code_device);
  for (const auto& entry : request.env) nul = nul || has_nul(entry);
  if (nul) return make_error("InitRuntime", "NUL byte in a field");
  {
    std::lock_guard lock(mu_);
    if (init_started_) {
      return make_error("InitRuntime", "the runtime was already started (one per agent)");
    }
    init_started_ = true;
  }

  if (!request.code_device.empty() && config_.mount_code) {
    if (::mount(request.code_device.c_str(), request.task_root.c_str(), "erofs",
                MS_RDONLY | MS_NODEV | MS_NOSUID, nullptr) != 0) {
      return errno_error("mount the function code",
                         request.code_device + " on " + request.task_root);
    }
  } else if (!request.code_device.empty()) {
    log_line("test mode: code device " + request.code_device + " not mounted");
  }

  if (request.runtime.starts_with("provided") && !is_executable_file(argv[0])) {
    struct stat st;
    bool present = ::stat(argv[0].c_str(), &st) == 0;
    InitResult failure = init_failure(
        "Runtime.InvalidEntrypoint",
        "Couldn't find valid bootstrap(s): [" + argv[0] +
            "]: " + (present ? "the file is not an executable regular file" : "no such file"));
    failure.init_duration_ns = monotonic_ns() - start;
    return failure;
  }

  EMBER_TRY(std::unique_ptr<RuntimeApiServer> server,
            RuntimeApiServer::start(config_.api_port, broker_));
  SpawnSpec spec;
  spec.program = argv[0];
  spec.argv = argv;
  spec.env = runtime_environment(request, server->port());
  spec.cwd = request.task_root;
  spec.drop_to = config_.runtime_user;
  auto process = RuntimeProcess::start(
      reaper_, std::move(spec), log_,
      [this](const RuntimeExit& exit) { broker_.runtime_exited(exit); }, config_.memory_cgroup);
  RuntimeProcess* runtime = nullptr;
  {
    std::lock_guard lock(mu_);
    server_ = std::move(server);
    if (process.ok()) {
      process_ = std::move(process).value();
      runtime = process_.get();
    }
  }
  if (runtime == nullptr) {
    InitResult failure = init_failure("Runtime.InvalidEntrypoint", process.error().message());
    failure.init_duration_ns = monotonic_ns() - start;
    return failure;
  }

  auto deadline =
      request.init_timeout_ms > 0
          ? std::chrono::steady_clock::now() + std::chrono::milliseconds(request.init_timeout_ms)
          : std::chrono::steady_clock::now() + std::chrono::hours(24 * 365);
  InitOutcome outcome = broker_.wait_init(deadline);
  InitResult result;
  switch (outcome.kind) {
    case InitOutcome::kReady:
      result.ok = true;
      break;
    case InitOutcome::kInitError:
      result.error_type = outcome.error_type;
      result.error_body = outcome.error_body;
      runtime->kill();
      break;
    case InitOutcome::kExited:
      result = init_failure(exit_error_type(outcome.exit), describe_exit(outcome.exit));
      break;
    case InitOutcome::kTimedOut:
      runtime->kill();
      result =
          init_failure("Sandbox.Timedout", "Init phase timed out after " +
                                               seconds_text(request.init_timeout_ms) + " seconds");
      break;
    case InitOutcome::kClosed:
      return make_error("InitRuntime", "the agent is shutting down");
  }
  runtime->collect_output();
  result.logs = log_.take();
  result.init_duration_ns = outcome.at_ns > start ? outcome.at_ns - start : 0;
  return result;
}

void FunctionRuntime::note_refresh() {
  std::lock_guard lock(mu_);
  if (init_started_) broker_.note_restore();
}

Result<InvokeResult> FunctionRuntime::invoke(const Invoke& request) {
  const uint64_t start = monotonic_ns();
  if (!is_valid_request_id(request.request_id)) {
    return make_error("invoke", "malformed request id '" + request.request_id + "'");
  }
  if (request.payload.size() > kMaxInvokePayload) {
    return make_error("invoke", "payload of " + std::to_string(request.payload.size()) +
                                    " bytes exceeds " + std::to_string(kMaxInvokePayload));
  }
  EMBER_CHECK(broker_.begin(request));
  EMBER_TRY(InvocationOutcome outcome, broker_.wait_outcome());
  RuntimeProcess* runtime;
  {
    std::lock_guard lock(mu_);
    runtime = process_.get();
  }
  InvokeResult result;
  result.status = outcome.status;
  result.payload = std::move(outcome.payload);
  result.error_type = std::move(outcome.error_type);
  result.duration_ns = outcome.at_ns > start ? outcome.at_ns - start : 0;
  if (outcome.status == InvokeResult::kRuntimeExit) {
    result.exit_code = outcome.exit.term_signal ? -1 : outcome.exit.exit_code;
    result.term_signal = outcome.exit.term_signal;
  }
  if (runtime != nullptr) {
    result.max_memory_used_bytes = runtime->peak_memory_bytes();
    runtime->collect_output();
  }
  result.logs = log_.take();
  return result;
}

}  // namespace ember::agent
