// Lambda's invocation record: what a destination receives about an asynchronous event.
#pragma once

#include <cstdint>
#include <string>

#include "host/store/event_queue.h"

namespace ember::host {

struct InvocationRecordInput {
  const QueuedEvent& event;
  std::string function_arn;    // the source function, unqualified
  EventFate fate;              // kSucceeded, kRetriesExhausted or kEventAgeExceeded
  std::string response;        // the last response or error payload ("" when never run)
  std::string function_error;  // "" or "Unhandled"
  int64_t now_ms = 0;
};

// {"version":"1.0","timestamp":...,"requestContext":{"requestId","functionArn" (with
// :$LATEST),"condition","approximateInvokeCount"},"requestPayload":...,"responseContext":{
// "statusCode","executedVersion","functionError"},"responsePayload":...}. Payloads that are
// JSON are embedded as JSON, others as strings; an event that never ran has no response
// parts.
std::string invocation_record(const InvocationRecordInput& input);

// Lambda's "condition" for a fate: "Success", "RetriesExhausted", "EventAgeExceeded".
const char* record_condition(EventFate fate);

}  // namespace ember::host
