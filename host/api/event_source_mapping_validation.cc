// Event source mapping requests: members read with Lambda's model bounds, then the rules of
// Lambda's Kinesis (stream) and SQS (queue) mappings, then what Ember leaves out.
#include "host/api/event_source_mapping_validation.h"

#include <cmath>
#include <optional>
#include <regex>
#include <vector>

#include "host/api/lambda_json.h"
#include "host/events/filter_pattern.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr char kArnForms[] =
    "arn:ember:redis:::SERVER/stream/KEY (read like a Kinesis stream) or "
    "arn:ember:redis:::SERVER/queue/KEY (read like an SQS queue), SERVER being a name given "
    "to emberd with --redis SERVER=URL";

// Lambda's limit on filters per mapping (its default quota).
constexpr size_t kMaxFilters = 5;

// Members of Lambda's model for sources or features Ember does not have: refused unless empty.
struct Unsupported {
  const char* member;
  const char* what;
};
constexpr Unsupported kUnsupported[] = {
    {"Topics", "Kafka sources"},
    {"Queues", "Amazon MQ sources"},
    {"SelfManagedEventSource", "Kafka sources"},
    {"AmazonManagedKafkaEventSourceConfig", "Kafka sources"},
    {"SelfManagedKafkaEventSourceConfig", "Kafka sources"},
    {"DocumentDBEventSourceConfig", "DocumentDB sources"},
    {"SourceAccessConfigurations",
     "source access configurations (emberd reaches Redis with the URL given to --redis)"},
    {"KMSKeyArn", "encrypted filter criteria"},
    {"MetricsConfig", "event source mapping metrics"},
    {"LoggingConfig", "event source mapping system logs"},
    {"ProvisionedPollerConfig", "provisioned pollers"},
    {"Tags", "tags on event source mappings"},
};

// The members a request gives (null counts as not given).
struct Given {
  std::optional<bool> enabled;
  std::optional<int64_t> batch_size;
  std::optional<int64_t> batching_window_s;
  std::optional<int64_t> retries;
  std::optional<int64_t> record_age_s;
  std::optional<bool> bisect;
  std::optional<std::string> starting_position;
  std::optional<int64_t> timestamp_ms;
  std::optional<bool> report_failures;
  std::optional<std::string> on_failure;            // "" removes it
  std::optional<std::vector<std::string>> filters;  // empty removes them
  bool scaling_given = false;                       // ScalingConfig, maybe {} to remove it
  std::optional<int64_t> max_concurrency;
};

const json* member(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

ApiError wrong_type(const std::string& key, const char* what) {
  return invalid_request_content("Could not parse request body into json: " + key + " must be " +
                                 what);
}

ApiResult<std::optional<int64_t>> read_int(const json& object, const char* key, const char* field,
                                           int64_t low, int64_t high) {
  const json* value = member(object, key);
  if (value == nullptr) return std::optional<int64_t>();
  if (!value->is_number_integer()) return wrong_type(key, "an integer");
  const int64_t number = value->get<int64_t>();
  if (number < low) {
    return constraint_violation(
        field, std::to_string(number),
        "Member must have value greater than or equal to " + std::to_string(low));
  }
  if (number > high) {
    return constraint_violation(
        field, std::to_string(number),
        "Member must have value less than or equal to " + std::to_string(high));
  }
  return std::optional<int64_t>(number);
}

ApiResult<std::optional<bool>> read_bool(const json& object, const char* key) {
  const json* value = member(object, key);
  if (value == nullptr) return std::optional<bool>();
  if (!value->is_boolean()) return wrong_type(key, "true or false");
  return std::optional<bool>(value->get<bool>());
}

const json* read_object(const json& object, const char* key, ApiStatus& status) {
  const json* value = member(object, key);
  if (value != nullptr && !value->is_object()) {
    status = wrong_type(key, "an object");
    return nullptr;
  }
  return value;
}

// null, "", [], or an object whose members are all empty: what a client sends for "none".
bool is_empty_value(const json& value) {
  if (value.is_null()) return true;
  if (value.is_string()) return value.get_ref<const std::string&>().empty();
  if (value.is_array()) return value.empty();
  if (!value.is_object()) return false;
  for (const auto& [key, inner] : value.items()) {
    if (!is_empty_value(inner)) return false;
  }
  return true;
}

ApiStatus refuse_unsupported(const json& body) {
  for (const Unsupported& u : kUnsupported) {
    auto it = body.find(u.member);
    if (it != body.end() && !is_empty_value(*it)) {
      return invalid_parameter(std::string(u.member) + " is not supported: Ember has no " + u.what +
                               "; its event source mappings read Redis streams and " +
                               "queues. Leave " + u.member + " out.");
    }
  }
  EMBER_TRY(auto parallel, read_int(body, "ParallelizationFactor", "parallelizationFactor", 1, 10));
  if (parallel.value_or(1) != 1) {
    return invalid_parameter("ParallelizationFactor " + std::to_string(*parallel) +
                             " is not supported: Ember processes one batch at a time per "
                             "stream mapping. Leave ParallelizationFactor out or give 1.");
  }
  EMBER_TRY(auto window,
            read_int(body, "TumblingWindowInSeconds", "tumblingWindowInSeconds", 0, 900));
  if (window.value_or(0) != 0) {
    return invalid_parameter(
        "TumblingWindowInSeconds is not supported: Ember has no tumbling "
        "windows. Leave it out or give 0.");
  }
  return {};
}

bool is_function_arn(const std::string& arn) {
  static const std::regex pattern(
      "arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\\d{12}:function:[a-zA-Z0-9_-]{1,64}(:\\$LATEST)?");
  return std::regex_match(arn, pattern);
}

// DestinationConfig.OnFailure.Destination: an Ember function or a Redis stream.
ApiStatus check_destination(const std::string& arn, const RedisServerNames& servers) {
  if (arn.empty() || is_function_arn(arn)) return {};
  const auto source = parse_redis_arn(arn);
  if (!source.ok() || source->queue) {
    return invalid_parameter("The OnFailure destination " + arn +
                             " is not supported: give an Ember function's ARN (arn:aws:lambda:"
                             "us-east-1:000000000000:function:NAME) or a Redis stream's "
                             "(arn:ember:redis:::SERVER/stream/KEY)");
  }
  EMBER_CHECK(check_source_arn(arn, servers, "DestinationConfig.OnFailure.Destination"));
  return {};
}

ApiStatus read_on_failure(const json& body, const RedisServerNames& servers,
                          std::optional<std::string>& out) {
  ApiStatus status;
  const json* config = read_object(body, "DestinationConfig", status);
  EMBER_CHECK(status);
  if (config == nullptr) return {};
  const json* success = read_object(*config, "OnSuccess", status);
  EMBER_CHECK(status);
  if (success != nullptr && !is_empty_value(*success)) {
    return invalid_parameter(
        "DestinationConfig.OnSuccess is not supported for event source "
        "mappings (Lambda has it for Kafka only); give DestinationConfig.OnFailure.");
  }
  const json* failure = read_object(*config, "OnFailure", status);
  EMBER_CHECK(status);
  if (failure == nullptr) return {};
  EMBER_TRY(std::string arn, optional_string(*failure, "Destination"));
  if (arn.size() > 350) {
    return constraint_violation("destinationConfig.onFailure.destination", arn,
                                "Member must have length less than or equal to 350");
  }
  EMBER_CHECK(check_destination(arn, servers));
  out = std::move(arn);
  return {};
}

ApiStatus check_pattern(const std::string& pattern, size_t index, bool queue) {
  const std::string where = "FilterCriteria.Filters[" + std::to_string(index) + "].Pattern";
  if (pattern.size() > 4096) {
    return constraint_violation(
        "filterCriteria.filters." + std::to_string(index + 1) + ".member.pattern", pattern,
        "Member must have length less than or equal to 4096");
  }
  const json parsed = json::parse(pattern, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return invalid_parameter("Invalid filter pattern definition: " + where +
                             " must be a JSON object such as {\"data\": {\"kind\": [\"order\"]}}"
                             ", got '" +
                             pattern + "'");
  }
  auto checked = FilterPattern::parse(pattern, queue ? SourceKind::kQueue : SourceKind::kStream);
  if (!checked.ok()) {
    return invalid_parameter(checked.error().op + " " + where + ": " + checked.error().context);
  }
  return {};
}

ApiStatus read_filters(const json& body, bool queue, std::optional<std::vector<std::string>>& out) {
  ApiStatus status;
  const json* criteria = read_object(body, "FilterCriteria", status);
  EMBER_CHECK(status);
  if (criteria == nullptr) return {};
  std::vector<std::string> patterns;
  const json* filters = member(*criteria, "Filters");
  if (filters != nullptr && !filters->is_array()) {
    return wrong_type("FilterCriteria.Filters", "a list");
  }
  if (filters != nullptr && filters->size() > kMaxFilters) {
    return invalid_parameter("FilterCriteria has " + std::to_string(filters->size()) +
                             " filters; a mapping takes at most " + std::to_string(kMaxFilters) +
                             ". Combine them into fewer patterns.");
  }
  for (size_t i = 0; filters != nullptr && i < filters->size(); ++i) {
    const json& filter = (*filters)[i];
    if (!filter.is_object()) return wrong_type("FilterCriteria.Filters[]", "objects");
    EMBER_TRY(std::string pattern, optional_string(filter, "Pattern"));
    EMBER_CHECK(check_pattern(pattern, i, queue));
    patterns.push_back(std::move(pattern));
  }
  out = std::move(patterns);
  return {};
}

ApiStatus read_response_types(const json& body, std::optional<bool>& out) {
  const json* types = member(body, "FunctionResponseTypes");
  if (types == nullptr) return {};
  if (!types->is_array()) return wrong_type("FunctionResponseTypes", "a list");
  if (types->size() > 1) {
    return constraint_violation("functionResponseTypes", types->dump(),
                                "Member must have length less than or equal to 1");
  }
  for (const json& type : *types) {
    if (!type.is_string() || type.get<std::string>() != "ReportBatchItemFailures") {
      return constraint_violation("functionResponseTypes", type.dump(),
                                  "Member must satisfy enum value set: [ReportBatchItemFailures]");
    }
  }
  out = !types->empty();
  return {};
}

// Everything but FunctionName, EventSourceArn and the unsupported members.
ApiResult<Given> read_given(const json& body, const RedisServerNames& servers, bool creating,
                            bool queue) {
  Given g;
  EMBER_TRY(g.enabled, read_bool(body, "Enabled"));
  EMBER_TRY(g.batch_size, read_int(body, "BatchSize", "batchSize", 1, 10000));
  EMBER_TRY(g.batching_window_s, read_int(body, "MaximumBatchingWindowInSeconds",
                                          "maximumBatchingWindowInSeconds", 0, 300));
  EMBER_TRY(g.retries, read_int(body, "MaximumRetryAttempts", "maximumRetryAttempts", -1, 10000));
  EMBER_TRY(g.record_age_s,
            read_int(body, "MaximumRecordAgeInSeconds", "maximumRecordAgeInSeconds", -1, 604800));
  EMBER_TRY(g.bisect, read_bool(body, "BisectBatchOnFunctionError"));
  EMBER_CHECK(read_response_types(body, g.report_failures));
  EMBER_CHECK(read_filters(body, queue, g.filters));
  EMBER_CHECK(read_on_failure(body, servers, g.on_failure));
  ApiStatus status;
  if (const json* scaling = read_object(body, "ScalingConfig", status); scaling != nullptr) {
    g.scaling_given = true;
    EMBER_TRY(g.max_concurrency, read_int(*scaling, "MaximumConcurrency",
                                          "scalingConfig.maximumConcurrency", 2, 1000));
  }
  EMBER_CHECK(status);
  if (!creating) return g;  // the starting position is fixed at creation
  if (const json* position = member(body, "StartingPosition"); position != nullptr) {
    const std::string text = position->is_string() ? position->get<std::string>() : "";
    if (text != "TRIM_HORIZON" && text != "LATEST" && text != "AT_TIMESTAMP") {
      return constraint_violation("startingPosition",
                                  position->is_string() ? text : position->dump(),
                                  "Member must satisfy enum value set: [TRIM_HORIZON, LATEST, "
                                  "AT_TIMESTAMP]");
    }
    g.starting_position = text;
  }
  if (const json* when = member(body, "StartingPositionTimestamp"); when != nullptr) {
    if (!when->is_number()) {
      return wrong_type("StartingPositionTimestamp", "a number of seconds since the epoch");
    }
    g.timestamp_ms = std::llround(when->get<double>() * 1000.0);
  }
  return g;
}

ApiError stream_only(const char* member, const EventSourceMapping& m) {
  return invalid_parameter(std::string(member) + " applies to stream sources only, as in " +
                           "Lambda's Kinesis mappings; " + m.event_source_arn +
                           " is a queue. Leave " + member + " out.");
}

// Checks `g` against the mapping's kind and applies it.
ApiStatus apply(const Given& g, bool creating, EventSourceMapping& m) {
  const bool queue = m.is_queue();
  if (queue) {
    if (g.starting_position || g.timestamp_ms) {
      return invalid_parameter("StartingPosition is not valid for queue sources such as " +
                               m.event_source_arn +
                               ": a queue is read from its head, as Lambda reads SQS. Leave "
                               "StartingPosition and StartingPositionTimestamp out.");
    }
    // MaximumRetryAttempts stays: for a queue it is the receives after which a record goes
    // to OnFailure (SQS's maxReceiveCount, which Lambda leaves to the queue's redrive policy).
    if (g.record_age_s) return stream_only("MaximumRecordAgeInSeconds", m);
    if (g.bisect) return stream_only("BisectBatchOnFunctionError", m);
  } else {
    if (g.max_concurrency) {
      return invalid_parameter(
          "ScalingConfig.MaximumConcurrency applies to queue sources "
          "only, as in Lambda's SQS mappings; " +
          m.event_source_arn + " is a stream. Leave ScalingConfig out.");
    }
    if (creating && !g.starting_position) {
      return invalid_parameter("StartingPosition is required for stream sources such as " +
                               m.event_source_arn +
                               ": give TRIM_HORIZON (from the oldest entry), LATEST (new "
                               "entries only) or AT_TIMESTAMP with StartingPositionTimestamp.");
    }
    if (g.starting_position == "AT_TIMESTAMP" && !g.timestamp_ms) {
      return invalid_parameter(
          "StartingPosition AT_TIMESTAMP needs StartingPositionTimestamp: "
          "give the time to start reading from.");
    }
    if (g.timestamp_ms && g.starting_position != "AT_TIMESTAMP") {
      return invalid_parameter(
          "StartingPositionTimestamp is only valid with StartingPosition "
          "AT_TIMESTAMP: give AT_TIMESTAMP or leave the timestamp out.");
    }
    if (g.record_age_s && *g.record_age_s >= 0 && *g.record_age_s < 60) {
      return invalid_parameter("MaximumRecordAgeInSeconds " + std::to_string(*g.record_age_s) +
                               " is not valid: give -1 (records never expire) or 60 to 604800.");
    }
  }
  if (g.enabled) m.enabled = *g.enabled;
  if (g.batch_size) m.batch_size = static_cast<int>(*g.batch_size);
  if (g.batching_window_s) m.max_batching_window_s = static_cast<int>(*g.batching_window_s);
  if (g.retries) m.max_retry_attempts = static_cast<int>(*g.retries);
  if (g.record_age_s) m.max_record_age_s = static_cast<int>(*g.record_age_s);
  if (g.bisect) m.bisect_batch_on_function_error = *g.bisect;
  if (g.starting_position) m.starting_position = *g.starting_position;
  m.starting_position_timestamp_ms = g.timestamp_ms.value_or(m.starting_position_timestamp_ms);
  if (g.report_failures) m.report_batch_item_failures = *g.report_failures;
  if (g.on_failure) m.on_failure = *g.on_failure;
  if (g.filters) m.filter_patterns = *g.filters;
  if (g.scaling_given) m.max_concurrency = static_cast<int>(g.max_concurrency.value_or(0));
  if (queue && m.batch_size > 10 && m.max_batching_window_s == 0) {
    return invalid_parameter(
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10: give MaximumBatchingWindowInSeconds of 1 or more, or a BatchSize of "
        "at most 10 (BatchSize is " +
        std::to_string(m.batch_size) + ").");
  }
  return {};
}

}  // namespace

ApiResult<RedisArn> check_source_arn(const std::string& arn, const RedisServerNames& servers,
                                     const std::string& member) {
  auto source = parse_redis_arn(arn);
  if (!source.ok()) {
    return invalid_parameter(member + " " + source.error().context +
                             ", SERVER being a name given to emberd with --redis SERVER=URL");
  }
  if (servers.count(source->server) == 0) {
    std::string known;
    for (const std::string& name : servers) known += (known.empty() ? "" : ", ") + name;
    return invalid_parameter(
        "emberd has no Redis server named '" + source->server + "'; start it with --redis " +
        source->server + "=redis://host:port" +
        (known.empty() ? std::string() : ", or name one it has (" + known + ")") + " in " + member +
        " " + arn);
  }
  return std::move(source).value();
}

ApiResult<EventSourceMapping> read_create_request(const json& body,
                                                  const RedisServerNames& servers) {
  EMBER_CHECK(refuse_unsupported(body));
  EMBER_TRY(std::string arn, optional_string(body, "EventSourceArn"));
  if (arn.empty()) {
    return invalid_parameter(std::string("EventSourceArn is required: give ") + kArnForms);
  }
  EventSourceMapping mapping;
  EMBER_TRY(mapping.source, check_source_arn(arn, servers, "EventSourceArn"));
  mapping.event_source_arn = arn;
  mapping.batch_size = mapping.is_queue() ? 10 : 100;
  EMBER_TRY(Given given, read_given(body, servers, /*creating=*/true, mapping.is_queue()));
  EMBER_CHECK(apply(given, /*creating=*/true, mapping));
  return mapping;
}

ApiStatus read_update_request(const json& body, const RedisServerNames& servers,
                              EventSourceMapping& mapping) {
  EMBER_CHECK(refuse_unsupported(body));
  EMBER_TRY(Given given, read_given(body, servers, /*creating=*/false, mapping.is_queue()));
  return apply(given, /*creating=*/false, mapping);
}

}  // namespace ember::host
