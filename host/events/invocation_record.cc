// The invocation record a destination gets, in Lambda's shape.
#include "host/events/invocation_record.h"

#include <time.h>

#include <cstdio>
#include <nlohmann/json.hpp>

namespace ember::host {
namespace {

using nlohmann::json;

// "2026-12-01T19:54:02.123Z".
std::string iso_timestamp(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return text;
}

json embedded(const std::string& payload) {
  json parsed = json::parse(payload, nullptr, false);
  return parsed.is_discarded() ? json(payload) : parsed;
}

}  // namespace

const char* record_condition(EventFate fate) { return event_fate_name(fate); }

std::string invocation_record(const InvocationRecordInput& in) {
  json record = {
      {"version", "1.0"},
      {"timestamp", iso_timestamp(in.now_ms)},
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
