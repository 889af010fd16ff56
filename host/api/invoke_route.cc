// Invoke: synchronous invocation through the InvocationRunner, or an Event put on the queue.
#include "host/api/function_validation.h"
#include "host/api/lambda_api.h"
#include "host/api/lambda_json.h"
#include "host/api/later_response.h"
#include "host/api/uuid.h"
#include "host/logs/log_lines.h"

namespace ember::host {

HttpResponse LambdaApi::invoke(const HttpRequest& request, const Params& params) {
  auto record = find_function(request, params);
  if (!record.ok()) return error_response(record.error());

  std::string type = request.header("x-amz-invocation-type");
  if (type.empty()) type = "RequestResponse";
  if (type != "RequestResponse" && type != "DryRun" && type != "Event") {
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
  const size_t limit =
      type == "Event" ? options_.max_event_payload_bytes : options_.max_invoke_payload_bytes;
  if (request.body.size() > limit) {
    return error_response(request_too_large("Request must be smaller than " +
                                            std::to_string(limit) +
                                            " bytes for the InvokeFunction operation"));
  }
  if (!request.body.empty() && !nlohmann::json::accept(request.body)) {
    return error_response(invalid_request_content(
        "Could not parse request body into json: Could not parse payload into json"));
  }
  if (type == "DryRun") {
    HttpResponse response;
    response.status = 204;
    return response;
  }
  if (type == "Event") return invoke_async(request, record.value());

  const InvocationInput input{.request_id = random_uuid(),
                              .payload = request.body.empty() ? "{}" : request.body,
                              .client_context = request.header("x-amz-client-context"),
                              .received = request.received};
  // Answered when the invocation ends: meanwhile no handler thread waits on the VM.
  auto later = std::make_shared<LaterResponse>();
  runner_.run_async(record.value(), input,
                    [later, request_id = input.request_id,
                     tail = log_type == "Tail"](Result<InvocationResult> result) {
                      later->give(invoke_response(result, request_id, tail));
                    });
  return deferred_response(later);
}

HttpResponse LambdaApi::invoke_response(const Result<InvocationResult>& result,
                                        const std::string& request_id, bool log_tail) {
  if (!result.ok()) {
    HttpResponse response = error_response(invoke_api_error(result.error()));
    response.set_header("x-amzn-RequestId", request_id);
    return response;
  }
  const InvokeOutcome& outcome = result->outcome;
  HttpResponse response;
  response.status = 200;
  response.body = outcome.payload;
  response.set_header("Content-Type", "application/json");
  response.set_header("x-amzn-RequestId", request_id);
  response.set_header("X-Amz-Executed-Version", "$LATEST");
  if (!outcome.function_error.empty()) {
    response.set_header("X-Amz-Function-Error", outcome.function_error);
  }
  if (log_tail) response.set_header("X-Amz-Log-Result", log_tail_base64(result->log));
  response.set_header("X-Ember-Timing", ember_timing_header(outcome.timing));
  return response;
}

HttpResponse LambdaApi::invoke_async(const HttpRequest& request, const FunctionRecord& function) {
  if (events_ == nullptr) {
    return error_response(service_error("This emberd has no event queue for Event invocations"));
  }
  const NewEvent event{.request_id = random_uuid(),
                       .function_name = function.name,
                       .payload = request.body.empty() ? "{}" : request.body,
                       .accepted_ms = unix_now_ms(),
                       .source = "invoke"};
  // The 202 goes out only once the event is on disk.
  if (auto queued = events_->enqueue(event); !queued.ok()) {
    HttpResponse response = error_response(internal_error("queue event", queued.error()));
    response.set_header("x-amzn-RequestId", event.request_id);
    return response;
  }
  HttpResponse response;
  response.status = 202;
  response.set_header("x-amzn-RequestId", event.request_id);
  return response;
}

}  // namespace ember::host
