// The invocation record a destination gets, in Lambda's shape.
#include "host/events/invocation_record.h"

#include <time.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/utc_time.h"

namespace ember::host {
namespace {

using nlohmann::json;

json embedded(const std::string& payload) {
  json parsed = json::parse(payload, nullptr, false);
  return parsed.is_discarded() ? json(payload) : parsed;
}

}  // namespace

const char* record_condition(EventFate fate) { return event_fate_name(fate); }

std::string invocation_record(const InvocationRecordInput& in) {
  json record = {
      {"version", "1.0"},
      {"timestamp", iso8601_utc(in.now_ms)},
      {"requestContext",
       {{"requestId", in.event.request_id},
        {"functionArn", in.function_arn + ":$LATEST"},
        {"condition", record_condition(in.fate)},
        {"approximateInvokeCount", in.event.attempts}}},
      {"requestPayload", embedded(in.event.payload)},
  };
  if (in.event.attempts > 0) {
    json context = {{"statusCode", 200}, {"executedVersion", "$LATEST"}};
    if (!in.function_error.empty()) context["functionError"] = in.function_error;
    record["responseContext"] = context;
    record["responsePayload"] = in.response.empty() ? json(nullptr) : embedded(in.response);
  }
  return record.dump();
}

}  // namespace ember::host
