// Invoke: synchronous invocation through the Invoker, with Lambda's headers and log lines.
#include <cstdio>

#include "host/api/function_validation.h"
#include "host/api/lambda_api.h"
#include "host/api/lambda_json.h"
#include "host/api/uuid.h"
#include "host/logs/log_lines.h"

namespace ember::host {
namespace {

using nlohmann::json;

FunctionSpec spec_for(const FunctionRecord& r, const std::string& region, const CodeStore& code) {
  FunctionSpec spec;
  spec.name = r.name;
  spec.arn = function_arn(region, r.name);
  spec.runtime = r.runtime;
  spec.handler = r.handler;
  spec.memory_mb = r.memory_mb;
  spec.timeout_s = r.timeout_s;
  spec.ephemeral_mb = r.ephemeral_mb;
  spec.env = r.environment;
  spec.code_sha256_hex = r.code_sha256_hex;
  spec.code_image_path = code.image_path(r.code_sha256_hex);
  spec.revision_id = r.revision_id;
  return spec;
}

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
    const json error = json::parse(outcome.payload, nullptr, false);
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

HttpResponse LambdaApi::invoke(const HttpRequest& request, const Params& params) {
  auto record = find_function(request, params);
  if (!record.ok()) return error_response(record.error());

  std::string type = request.header("x-amz-invocation-type");
  if (type.empty()) type = "RequestResponse";
  if (type == "Event") {
    return error_response(invalid_parameter(
        "Asynchronous invocation (X-Amz-Invocation-Type: Event) is not supported by Ember yet; "
        "use RequestResponse"));
  }
  if (type != "RequestResponse" && type != "DryRun") {
    return error_response(
        constraint_violation("invocationType", type,
                             "Member must satisfy enum value set: [Event, RequestResponse, "
                             "DryRun]"));
  }
  const std::string log_type = request.header("x-amz-log-type");
  if (!log_type.empty() && log_type != "None" && log_type != "Tail") {
    return error_response(constraint_violation("logType", log_type,
                                               "Member must satisfy enum value set: [None, Tail]"));
  }
  if (request.body.size() > options_.max_invoke_payload_bytes) {
    return error_response(request_too_large("Request must be smaller than " +
                                            std::to_string(options_.max_invoke_payload_bytes) +
                                            " bytes for the InvokeFunction operation"));
  }
  if (!request.body.empty() && !json::accept(request.body)) {
    return error_response(invalid_request_content(
        "Could not parse request body into json: Could not parse payload into json"));
  }
  if (type == "DryRun") {
    HttpResponse response;
    response.status = 204;
    return response;
  }

  InvokeRequest invocation;
  invocation.fn = spec_for(record.value(), options_.region, code_);
  invocation.request_id = random_uuid();
  invocation.payload = request.body.empty() ? "{}" : request.body;
  invocation.client_context = request.header("x-amz-client-context");
  invocation.received = request.received;
  auto outcome = invoker_.invoke(invocation);
  if (!outcome.ok()) {
    const std::string message = outcome.error().message();
    std::fprintf(stderr, "emberd: invoke %s (%s): %s\n", record->name.c_str(),
                 invocation.request_id.c_str(), message.c_str());
    HttpResponse response =
        error_response(invoke_error_type(outcome.error()) == InvokeErrorType::kTooManyRequests
                           ? too_many_requests("Rate Exceeded. " + message)
                           : service_error(message));
    response.set_header("x-amzn-RequestId", invocation.request_id);
    return response;
  }

  const std::string log = invocation_log(
      report_for(invocation.request_id, record.value(), outcome.value()), outcome->runtime_output);
  if (auto appended = logs_.append(record->name, log); !appended.ok()) {
    std::fprintf(stderr, "emberd: %s\n", appended.error().message().c_str());
  }
  HttpResponse response;
  response.status = 200;
  response.body = outcome->payload;
  response.set_header("Content-Type", "application/json");
  response.set_header("x-amzn-RequestId", invocation.request_id);
  response.set_header("X-Amz-Executed-Version", "$LATEST");
  if (!outcome->function_error.empty()) {
    response.set_header("X-Amz-Function-Error", outcome->function_error);
  }
  if (log_type == "Tail") response.set_header("X-Amz-Log-Result", log_tail_base64(log));
  response.set_header("X-Ember-Timing", ember_timing_header(outcome->timing));
  return response;
}

}  // namespace ember::host
