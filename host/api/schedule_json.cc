// EventBridge Scheduler's JSON shapes: reading and checking a schedule, writing it back.
#include "host/api/schedule_json.h"

#include <cmath>
#include <optional>
#include <regex>

#include "host/events/schedule_expression.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr char kNamePattern[] = "^[0-9a-zA-Z-_.]+$";
constexpr char kRolePattern[] = R"(^arn:aws(-[a-z]+)?:iam::\d{12}:role\/[\w+=,.@\/-]+$)";
constexpr char kClientTokenPattern[] = "^[a-zA-Z0-9-_]+$";
constexpr char kKmsPattern[] =
    R"(^arn:aws(-[a-z]+)?:kms:[a-z0-9\-]+:\d{12}:(key|alias)\/[0-9a-zA-Z-_]*$)";
constexpr char kLambdaArnPattern[] =
    R"(^arn:aws(-[a-z]+)?:lambda:[a-z0-9-]+:\d{12}:function:([a-zA-Z0-9_-]{1,64})(:\$LATEST)?$)";

// Target members for the kinds of target Ember does not run.
constexpr const char* kOtherTargetKinds[] = {"EcsParameters", "EventBridgeParameters",
                                             "KinesisParameters", "SageMakerPipelineParameters",
                                             "SqsParameters"};

ApiError missing(const std::string& field) {
  return validation_error("1 validation error detected: Value null at '" + field +
                          "' failed to satisfy constraint: Member must not be null");
}

ApiError wrong_type(const std::string& field, const char* expected) {
  return validation_error("Could not read the request: '" + field + "' must be " + expected);
}

bool matches(const std::string& value, const char* pattern) {
  return std::regex_match(value, std::regex(pattern));
}

ApiStatus check_length(const std::string& field, const std::string& value, size_t min, size_t max) {
  if (value.size() < min) {
    return constraint_violation(
        field, value, "Member must have length greater than or equal to " + std::to_string(min));
  }
  if (value.size() > max) {
    return constraint_violation(
        field, value, "Member must have length less than or equal to " + std::to_string(max));
  }
  return {};
}

ApiStatus check_pattern(const std::string& field, const std::string& value, const char* pattern) {
  if (matches(value, pattern)) return {};
  return constraint_violation(
      field, value, std::string("Member must satisfy regular expression pattern: ") + pattern);
}

ApiStatus check_range(const std::string& field, int64_t value, int64_t min, int64_t max) {
  if (value < min) {
    return constraint_violation(
        field, std::to_string(value),
        "Member must have value greater than or equal to " + std::to_string(min));
  }
  if (value > max) {
    return constraint_violation(
        field, std::to_string(value),
        "Member must have value less than or equal to " + std::to_string(max));
  }
  return {};
}

// Reads the members of one JSON object; `path` ("target.retryPolicy.") prefixes the field
// names in messages, which Scheduler spells in lowerCamelCase.
class Fields {
 public:
  Fields(const json& object, std::string path) : object_(object), path_(std::move(path)) {}

  std::string field(const char* key) const {
    std::string name = key;
    name[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
    return path_ + name;
  }
  bool has(const char* key) const {
    auto it = object_.find(key);
    return it != object_.end() && !it->is_null();
  }
  ApiResult<std::optional<std::string>> string(const char* key) const {
    if (!has(key)) return std::optional<std::string>();
    const json& value = object_.at(key);
    if (!value.is_string()) return wrong_type(field(key), "a string");
    return std::optional<std::string>(value.get<std::string>());
  }
  ApiResult<std::string> required_string(const char* key) const {
    EMBER_TRY(auto value, string(key));
    if (!value) return missing(field(key));
    return *value;
  }
  ApiResult<std::optional<int64_t>> integer(const char* key) const {
    if (!has(key)) return std::optional<int64_t>();
    const json& value = object_.at(key);
    if (!value.is_number_integer()) return wrong_type(field(key), "an integer");
    return std::optional<int64_t>(value.get<int64_t>());
  }
  // rest-json timestamps are Unix seconds, possibly with a fraction (dropped).
  ApiResult<std::optional<int64_t>> timestamp(const char* key) const {
    if (!has(key)) return std::optional<int64_t>();
    const json& value = object_.at(key);
    if (!value.is_number()) return wrong_type(field(key), "a timestamp in Unix seconds");
    return std::optional<int64_t>(static_cast<int64_t>(std::floor(value.get<double>())));
  }
  ApiResult<std::optional<Fields>> object(const char* key) const {
    if (!has(key)) return std::optional<Fields>();
    const json& value = object_.at(key);
    if (!value.is_object()) return wrong_type(field(key), "an object");
    return std::optional<Fields>(Fields(value, field(key) + "."));
  }
  // An optional enum member: its value, or `fallback` when absent.
  ApiResult<std::string> choice(const char* key, std::initializer_list<const char*> allowed,
                                const char* fallback) const {
    EMBER_TRY(auto value, string(key));
    if (!value) return std::string(fallback);
    std::string set;
    for (const char* option : allowed) {
      if (*value == option) return *value;
      set += (set.empty() ? "" : ", ") + std::string(option);
    }
    return constraint_violation(field(key), *value,
                                "Member must satisfy enum value set: [" + set + "]");
  }

 private:
  const json& object_;
  std::string path_;
};

ApiStatus read_flexible_window(const Fields& body, ScheduleRecord& r) {
  EMBER_TRY(auto window, body.object("FlexibleTimeWindow"));
  if (!window) return missing("flexibleTimeWindow");
  if (!window->has("Mode")) return missing(window->field("Mode"));
  EMBER_TRY(r.flexible_mode, window->choice("Mode", {"OFF", "FLEXIBLE"}, "OFF"));
  EMBER_TRY(auto minutes, window->integer("MaximumWindowInMinutes"));
  if (minutes) EMBER_CHECK(check_range(window->field("MaximumWindowInMinutes"), *minutes, 1, 1440));
  if (r.flexible_mode == "FLEXIBLE" && !minutes) {
    return validation_error(
        "FlexibleTimeWindow.MaximumWindowInMinutes is required when FlexibleTimeWindow.Mode is "
        "FLEXIBLE: give the window's length in minutes (1-1440)");
  }
  if (r.flexible_mode == "OFF" && minutes) {
    return validation_error(
        "FlexibleTimeWindow.MaximumWindowInMinutes applies only when FlexibleTimeWindow.Mode is "
        "FLEXIBLE: leave it out, or set Mode to FLEXIBLE");
  }
  r.flexible_window_min = static_cast<int>(minutes.value_or(0));
  return {};
}

ApiStatus read_target(const Fields& body, ScheduleTarget& t) {
  EMBER_TRY(auto target, body.object("Target"));
  if (!target) return missing("target");
  EMBER_TRY(t.arn, target->required_string("Arn"));
  EMBER_CHECK(check_length(target->field("Arn"), t.arn, 1, 1600));
  EMBER_TRY(t.role_arn, target->required_string("RoleArn"));
  EMBER_CHECK(check_length(target->field("RoleArn"), t.role_arn, 1, 1600));
  EMBER_CHECK(check_pattern(target->field("RoleArn"), t.role_arn, kRolePattern));
  for (const char* kind : kOtherTargetKinds) {
    if (target->has(kind)) {
      return validation_error(std::string("Target.") + kind +
                              " is not supported: Ember runs only Lambda targets; give a "
                              "function ARN as Target.Arn and leave " +
                              kind + " out");
    }
  }
  if (target_function_name(t.arn).empty()) {
    return validation_error(
        "Target.Arn " + t.arn +
        " is not supported: Ember runs only Lambda targets; give a function "
        "ARN such as arn:aws:lambda:us-east-1:000000000000:function:my-function");
  }
  EMBER_TRY(auto input, target->string("Input"));
  if (input) {
    EMBER_CHECK(check_length(target->field("Input"), *input, 1, SIZE_MAX));
    if (!json::accept(*input)) {
      return validation_error(
          "Target.Input must be well-formed JSON for a Lambda target: it is the function's "
          "event");
    }
    t.input = *input;
  }
  EMBER_TRY(auto retry, target->object("RetryPolicy"));
  if (retry) {
    EMBER_TRY(auto attempts, retry->integer("MaximumRetryAttempts"));
    if (attempts) EMBER_CHECK(check_range(retry->field("MaximumRetryAttempts"), *attempts, 0, 185));
    EMBER_TRY(auto age, retry->integer("MaximumEventAgeInSeconds"));
    if (age) EMBER_CHECK(check_range(retry->field("MaximumEventAgeInSeconds"), *age, 60, 86400));
    t.max_retry_attempts = static_cast<int>(attempts.value_or(t.max_retry_attempts));
    t.max_event_age_s = age.value_or(t.max_event_age_s);
  }
  EMBER_TRY(auto dead_letter, target->object("DeadLetterConfig"));
  if (dead_letter) {
    EMBER_TRY(auto arn, dead_letter->string("Arn"));
    if (arn) {
      EMBER_CHECK(check_length(dead_letter->field("Arn"), *arn, 1, 1600));
      // Ember has no SQS: failed events go to a function, as Lambda's dead-letter targets can.
      if (target_function_name(*arn).empty()) {
        return validation_error("Target.DeadLetterConfig.Arn " + *arn +
                                " is not supported: Ember has no SQS queues; give a function "
                                "ARN to receive the failed events");
      }
      t.dead_letter_arn = *arn;
    }
  }
  return {};
}

ApiStatus read_dates(const Fields& body, ScheduleRecord& r) {
  EMBER_TRY(r.start_s, body.timestamp("StartDate"));
  EMBER_TRY(r.end_s, body.timestamp("EndDate"));
  if (r.start_s && r.end_s && *r.end_s <= *r.start_s) {
    return validation_error("The EndDate must be after the StartDate");
  }
  return {};
}

ApiStatus read_expression(const Fields& body, ScheduleRecord& r) {
  EMBER_TRY(r.expression, body.required_string("ScheduleExpression"));
  EMBER_CHECK(check_length("scheduleExpression", r.expression, 1, 256));
  auto parsed = ScheduleExpression::parse(r.expression);
  if (!parsed.ok()) {
    const Error& e = parsed.error();
    return validation_error(e.context.empty() ? e.message() : e.context);
  }
  EMBER_TRY(auto zone, body.string("ScheduleExpressionTimezone"));
  if (zone) {
    EMBER_CHECK(check_length("scheduleExpressionTimezone", *zone, 1, 50));
    auto loaded = TimeZone::load(*zone);
    if (!loaded.ok()) {
      const Error& e = loaded.error();
      return validation_error("Invalid ScheduleExpressionTimezone: " +
                              (e.context.empty() ? e.message() : e.context));
    }
    r.timezone = *zone;
  }
  return {};
}

}  // namespace

ApiError scheduler_conflict(std::string message) {
  return {409, "ConflictException", std::move(message)};
}
ApiError scheduler_internal(std::string message) {
  return {500, "InternalServerException", std::move(message)};
}

std::string schedule_arn(const std::string& region, const std::string& group,
                         const std::string& name) {
  return "arn:aws:scheduler:" + region + ":000000000000:schedule/" + group + "/" + name;
}

std::string schedule_group_arn(const std::string& region, const std::string& group) {
  return "arn:aws:scheduler:" + region + ":000000000000:schedule-group/" + group;
}

ApiStatus check_schedule_name(const std::string& name, const std::string& field) {
  EMBER_CHECK(check_length(field, name, 1, 64));
  return check_pattern(field, name, kNamePattern);
}

ApiStatus check_default_group(const std::string& group) {
  if (group.empty() || group == "default") return {};
  return resource_not_found("Schedule group " + group +
                            " does not exist. Ember has only the default schedule group: leave "
                            "GroupName out or give \"default\"");
}

std::string target_function_name(const std::string& arn) {
  static const std::regex pattern(kLambdaArnPattern);
  std::smatch match;
  if (!std::regex_match(arn, match, pattern)) return "";
  return match[2].str();
}

ApiResult<ScheduleRecord> read_schedule(std::string_view text, const std::string& name) {
  const json body = text.empty() ? json::object() : json::parse(text, nullptr, false);
  if (!body.is_object()) {
    return validation_error("The request body must be a JSON object describing the schedule");
  }
  const Fields fields(body, "");
  ScheduleRecord r;
  r.name = name;
  EMBER_CHECK(check_schedule_name(name, "name"));
  EMBER_TRY(auto group, fields.string("GroupName"));
  if (group) {
    EMBER_CHECK(check_schedule_name(*group, "groupName"));
    EMBER_CHECK(check_default_group(*group));
  }
  EMBER_CHECK(read_expression(fields, r));
  EMBER_CHECK(read_flexible_window(fields, r));
  EMBER_CHECK(read_target(fields, r.target));
  EMBER_CHECK(read_dates(fields, r));
  EMBER_TRY(r.state, fields.choice("State", {"ENABLED", "DISABLED"}, "ENABLED"));
  EMBER_TRY(r.action_after_completion,
            fields.choice("ActionAfterCompletion", {"NONE", "DELETE"}, "NONE"));
  EMBER_TRY(auto description, fields.string("Description"));
  r.description = description.value_or("");
  EMBER_CHECK(check_length("description", r.description, 0, 512));
  EMBER_TRY(auto token, fields.string("ClientToken"));
  if (token) {
    EMBER_CHECK(check_length("clientToken", *token, 1, 64));
    EMBER_CHECK(check_pattern("clientToken", *token, kClientTokenPattern));
    r.client_token = *token;
  }
  EMBER_TRY(auto kms, fields.string("KmsKeyArn"));
  if (kms) {
    EMBER_CHECK(check_length("kmsKeyArn", *kms, 1, 2048));
    EMBER_CHECK(check_pattern("kmsKeyArn", *kms, kKmsPattern));
    r.kms_key_arn = *kms;
  }
  return r;
}

json schedule_json(const ScheduleRecord& r, const std::string& region) {
  json target = {{"Arn", r.target.arn},
                 {"RoleArn", r.target.role_arn},
                 {"RetryPolicy",
                  {{"MaximumRetryAttempts", r.target.max_retry_attempts},
                   {"MaximumEventAgeInSeconds", r.target.max_event_age_s}}}};
  if (!r.target.input.empty()) target["Input"] = r.target.input;
  if (!r.target.dead_letter_arn.empty()) {
    target["DeadLetterConfig"] = {{"Arn", r.target.dead_letter_arn}};
  }
  json window = {{"Mode", r.flexible_mode}};
  if (r.flexible_mode == "FLEXIBLE") window["MaximumWindowInMinutes"] = r.flexible_window_min;
  json out = {{"ActionAfterCompletion", r.action_after_completion},
              {"Arn", schedule_arn(region, r.group, r.name)},
              {"CreationDate", r.created_s},
              {"FlexibleTimeWindow", window},
              {"GroupName", r.group},
              {"LastModificationDate", r.modified_s},
              {"Name", r.name},
              {"ScheduleExpression", r.expression},
              {"ScheduleExpressionTimezone", r.timezone.empty() ? "UTC" : r.timezone},
              {"State", r.state},
              {"Target", target}};
  if (!r.description.empty()) out["Description"] = r.description;
  if (r.start_s) out["StartDate"] = *r.start_s;
  if (r.end_s) out["EndDate"] = *r.end_s;
  if (!r.kms_key_arn.empty()) out["KmsKeyArn"] = r.kms_key_arn;
  return out;
}

json schedule_summary_json(const ScheduleRecord& r, const std::string& region) {
  return {{"Arn", schedule_arn(region, r.group, r.name)},
          {"CreationDate", r.created_s},
          {"GroupName", r.group},
          {"LastModificationDate", r.modified_s},
          {"Name", r.name},
          {"State", r.state},
          {"Target", {{"Arn", r.target.arn}}}};
}

}  // namespace ember::host
