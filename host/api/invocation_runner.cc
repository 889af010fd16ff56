// InvocationRunner: the invoker call, the REPORT line's fields and the log append.
#include "host/api/invocation_runner.h"

#include <cerrno>
#include <cstdio>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>

#include "host/api/function_validation.h"
#include "host/logs/log_lines.h"

namespace ember::host {
namespace {

// The REPORT line's fields for an outcome; a function error adds Lambda's Status and Error
// Type (timeouts are "Status: timeout").
InvocationReport report_for(const std::string& request_id, const FunctionRecord& record,
                            const InvokeOutcome& outcome) {
  InvocationReport report;
  report.request_id = request_id;
  report.duration_ms = outcome.duration_ms;
  report.memory_size_mb = record.memory_mb;
  report.max_memory_used_mb = outcome.max_memory_used_mb;
  if (outcome.timing.cold && outcome.timing.restore_ms > 0) {
    report.restore_duration_ms = outcome.timing.restore_ms;
  } else if (outcome.timing.cold) {
    report.init_duration_ms = outcome.timing.boot_ms + outcome.timing.init_ms;
  }
  if (!outcome.function_error.empty()) {
    const nlohmann::json error = nlohmann::json::parse(outcome.payload, nullptr, false);
    const std::string type =
        error.is_object() && error.contains("errorType") && error["errorType"].is_string()
            ? error["errorType"].get<std::string>()
            : std::string();
    if (type == "Sandbox.Timedout") {
      report.status = "timeout";
    } else if (type.rfind("Runtime.", 0) == 0) {
      report.status = "error";
      report.error_type = type;
    }
  }
  return report;
}

}  // namespace

FunctionSpec InvocationRunner::spec_for(const FunctionRecord& r) const {
  FunctionSpec spec;
  spec.name = r.name;
  spec.arn = function_arn(region_, r.name);
  spec.runtime = r.runtime;
  spec.handler = r.handler;
  spec.memory_mb = r.memory_mb;
  spec.timeout_s = r.timeout_s;
  spec.ephemeral_mb = r.ephemeral_mb;
  spec.env = r.environment;
  spec.code_sha256_hex = r.code_sha256_hex;
  spec.code_image_path = code_.image_path(r.code_sha256_hex);
  spec.revision_id = r.revision_id;
  spec.egress = r.egress;
  return spec;
}

void InvocationRunner::run_async(const FunctionRecord& function, const InvocationInput& input,
                                 Done done) {
  start(function, input, std::move(done), kStaleRestarts);
}

void InvocationRunner::start(const FunctionRecord& function, const InvocationInput& input,
                             Done done, int restarts_left) {
  // The function changed before this invocation began (its code was replaced, or its
  // revision retired while it waited for the revision's first boot): it runs on what the
  // function is now, as Lambda's $LATEST would.
  auto on_stale = [this, name = function.name, input, restarts_left](Error stale,
                                                                       Done& then) {
    if (restarts_left == 0) return then(std::move(stale));
    auto current = functions_.get(name);
    if (!current.ok()) return then(current.error());
    start(current.value(), input, std::move(then), restarts_left - 1);
  };
  InvokeRequest request;
  request.fn = spec_for(function);
  request.request_id = input.request_id;
  request.payload = input.payload;
  request.client_context = input.client_context;
  request.received = input.received;
  // The code image stays while the invocation may attach it to a VM, even if the function's
  // code is replaced meanwhile.
  auto code_use = code_.use(function.code_sha256_hex);
  if (!code_use.ok()) {
    return on_stale(Error{ESTALE, "invoke " + function.name,
                          "its code was replaced while this invocation started; send it again"},
                    done);
  }
  auto held = std::make_shared<CodeUse>(std::move(code_use).value());
  invoker_.invoke_async(
      std::move(request), [this, held, function, request_id = input.request_id, on_stale,
                           done = std::move(done)](Result<InvokeOutcome> outcome) mutable {
        if (!outcome.ok() && outcome.error().code == ESTALE) {
          return on_stale(outcome.error(), done);
        }
        if (!outcome.ok()) {
          std::fprintf(stderr, "emberd: invoke %s (%s): %s\n", function.name.c_str(),
                       request_id.c_str(), outcome.error().message().c_str());
          return done(outcome.error());
        }
        InvocationResult result{std::move(outcome).value(), {}};
        result.log = invocation_log(report_for(request_id, function, result.outcome),
                                    result.outcome.runtime_output);
        if (auto appended = logs_.append(function.name, result.log); !appended.ok()) {
          std::fprintf(stderr, "emberd: %s\n", appended.error().message().c_str());
        }
        done(std::move(result));
      });
}

Result<InvocationResult> InvocationRunner::run(const FunctionRecord& function,
                                               const InvocationInput& input) {
  std::promise<Result<InvocationResult>> answer;
  std::future<Result<InvocationResult>> result = answer.get_future();
  run_async(function, input,
            [&answer](Result<InvocationResult> ran) { answer.set_value(std::move(ran)); });
  return result.get();
}

ApiError invoke_api_error(const Error& error) {
  const std::string message = error.message();
  return invoke_error_type(error) == InvokeErrorType::kTooManyRequests
             ? too_many_requests("Rate Exceeded. " + message)
             : service_error(message);
}

}  // namespace ember::host
