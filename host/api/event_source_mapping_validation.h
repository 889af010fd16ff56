// Lambda's checks on CreateEventSourceMapping and UpdateEventSourceMapping bodies, for Ember's
// Redis stream (Kinesis-like) and queue (SQS-like) sources.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "host/api/api_error.h"
#include "host/store/event_source_mapping_store.h"

namespace ember::host {

// The Redis servers emberd was started with (--redis NAME=URL), by name.
using RedisServerNames = std::set<std::string>;

// The source an EventSourceArn names. A malformed ARN or a server emberd has no --redis for is
// InvalidParameterValueException saying what to give instead; `member` names the ARN's place in the
// request ("EventSourceArn").
ApiResult<RedisArn> check_source_arn(const std::string& arn, const RedisServerNames& servers,
                                     const std::string& member);

// A new mapping from CreateEventSourceMapping's body (all but FunctionName, which the caller
// resolves): EventSourceArn is required, the defaults of the source's kind fill in what is not
// given, and members Ember does not support are refused when they hold anything but their default.
// uuid, function_name and the times are left for the caller.
ApiResult<EventSourceMapping> read_create_request(const nlohmann::json& body,
                                                  const RedisServerNames& servers);

// Applies the members UpdateEventSourceMapping's body gives (all but FunctionName) onto `mapping`,
// with the same checks. On error `mapping` may be half-changed.
ApiStatus read_update_request(const nlohmann::json& body, const RedisServerNames& servers,
                              EventSourceMapping& mapping);

}  // namespace ember::host
