// EventBridge Scheduler's JSON shapes (2021-06-30): CreateSchedule/UpdateSchedule in,
// GetSchedule and ScheduleSummary out, with the service model's bounds.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "host/api/api_error.h"
#include "host/store/schedule_store.h"

namespace ember::host {

// Scheduler's error types, with their statuses (ValidationException and
// ResourceNotFoundException are api_error.h's validation_error and resource_not_found).
ApiError scheduler_conflict(std::string message);  // 409 ConflictException
ApiError scheduler_internal(std::string message);  // 500 InternalServerException

// "arn:aws:scheduler:<region>:000000000000:schedule/<group>/<name>".
std::string schedule_arn(const std::string& region, const std::string& group,
                         const std::string& name);
// "arn:aws:scheduler:<region>:000000000000:schedule-group/<group>".
std::string schedule_group_arn(const std::string& region, const std::string& group);

// Checks a schedule or group name from the path or query (1-64 of [0-9a-zA-Z-_.]);
// `field` names it in the message ("name", "groupName").
ApiStatus check_schedule_name(const std::string& name, const std::string& field);
// A GroupName other than "default" (or empty) is ResourceNotFoundException.
ApiStatus check_default_group(const std::string& group);

// The schedule a CreateSchedule or UpdateSchedule body describes, named `name`, every member
// checked against the model's constraints and Ember's (Lambda targets only, a parseable
// expression and time zone, EndDate after StartDate). Bookkeeping fields are left zero.
ApiResult<ScheduleRecord> read_schedule(std::string_view body, const std::string& name);

// GetScheduleOutput; dates as Unix seconds, as rest-json sends timestamps.
nlohmann::json schedule_json(const ScheduleRecord& record, const std::string& region);
// ListSchedules' ScheduleSummary.
nlohmann::json schedule_summary_json(const ScheduleRecord& record, const std::string& region);

// The function a Lambda target ARN names ("arn:aws:lambda:R:A:function:NAME[:$LATEST]");
// "" when it is not one.
std::string target_function_name(const std::string& arn);

}  // namespace ember::host
