// Human-readable output of the ember CLI: function details, lists, timings, errors.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "host/cli/endpoint.h"
#include "host/cli/http_client.h"

namespace ember::cli {

// "Key: value" lines, aligned, of a FunctionConfiguration, or of a GetFunction answer
// ({"Configuration": ...}). Fields the daemon did not send are left out.
std::string format_function(const nlohmann::json& function);

// A table of FunctionConfigurations: NAME RUNTIME HANDLER MEMORY TIMEOUT LAST MODIFIED.
std::string format_function_list(const std::vector<nlohmann::json>& functions);

// A span of milliseconds in the unit a person reads best: "850 ms", "1.5 s", "3 min 2 s",
// "2 h 5 min", "3 d 4 h" (truncated, never rounded up into the next unit).
std::string format_duration_ms(int64_t ms);

// emberd's GET /ember/v1/functions/NAME/async answer: the queue as aligned lines (depth, the
// oldest event's age, in flight, waiting for a retry), then a table of the recent events
// (REQUEST ID FATE ATTEMPTS ACCEPTED FINISHED DETAIL), newest first as sent.
std::string format_queue(const nlohmann::json& queue);

// Event source mappings as `ember mappings` shows them: Lambda's EventSourceMappingConfiguration,
// with emberd's GET /ember/v1/event-source-mappings/UUID/status answer (if any) under "Status".
// A table: UUID FUNCTION SOURCE STATE LAST RESULT LAG IN FLIGHT RECORDS/S, "-" where a figure
// is absent (no poller runs the mapping) and "unknown" for a Lag of -1.
std::string format_mapping_list(const std::vector<nlohmann::json>& mappings);

// One mapping as aligned "Key: value" lines: every field it has (ones this does not know by
// their JSON name), then the live figures.
std::string format_mapping(const nlohmann::json& mapping);

// One line for stderr from Ember's X-Ember-Timing header
// ("start=cold;queue=0.1;restore=..;boot=..;init=..;handler=..;total=.." in ms), e.g.
// "timing: cold start, total 75.0 ms (queue 0.1 ms, restore 12.0 ms, ...)".
std::string format_timing(std::string_view header);

struct ApiError {
  std::string type;     // x-amzn-ErrorType (without its ":..." suffix) or the body's Type
  std::string message;  // the body's Message (or message); may be empty
};

// The Lambda-style error of a failed response. Works with any body: when it is not
// Lambda's JSON, the type is "HTTP <status>" and the message is the body's first line.
ApiError api_error(const HttpResponse& response);

// "ember: <Type>: <Message>".
std::string format_api_error(const ApiError& error);

// The message when emberd's endpoint (Unix socket or TCP) cannot be connected to.
std::string format_unreachable(const Endpoint& endpoint, const Error& error);

// One line when X-Amz-Function-Error is set: the error kind and, if the payload is the
// runtime's {"errorType","errorMessage"}, those.
std::string format_function_error(std::string_view kind, std::string_view payload);

}  // namespace ember::cli
