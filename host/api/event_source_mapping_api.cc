// EventSourceMappingApi: create, get, update, delete and list mappings, with Lambda's shapes.
#include "host/api/event_source_mapping_api.h"

#include <cerrno>
#include <cstdio>

#include "host/api/function_validation.h"
#include "host/api/lambda_api.h"
#include "host/api/lambda_json.h"
#include "host/api/uuid.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr char kPath[] = "/2015-03-31/event-source-mappings";
constexpr size_t kDefaultPageSize = 100;
constexpr int64_t kMaxPageSize = 10000;

double epoch_seconds(int64_t unix_ms) { return static_cast<double>(unix_ms) / 1000.0; }

HttpResponse answer(int status, const ApiResult<json>& result) {
  if (!result.ok()) return error_response(result.error());
  return json_response(status, result.value());
}

ApiError no_mapping(const std::string& uuid) {
  return resource_not_found(
      "The resource you requested does not exist: no event source mapping has UUID " + uuid +
      " (ListEventSourceMappings lists them)");
}

// MaxItems, 1-10000 as Lambda's model bounds it.
ApiResult<size_t> page_size(const std::string& text) {
  if (text.empty()) return kDefaultPageSize;
  const bool digits = text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos;
  const int64_t value = digits ? std::stoll(text) : -1;
  if (value < 1) {
    return constraint_violation("maxItems", text,
                                "Member must have value greater than or equal to 1");
  }
  if (value > kMaxPageSize) {
    return constraint_violation("maxItems", text,
                                "Member must have value less than or equal to 10000");
  }
  return static_cast<size_t>(value);
}

}  // namespace

EventSourceMappingApi::EventSourceMappingApi(FunctionStore& functions,
                                             EventSourceMappingStore& mappings, std::string region,
                                             RedisServerNames redis_servers,
                                             std::function<void()> changed)
    : functions_(functions),
      mappings_(mappings),
      region_(std::move(region)),
      redis_servers_(std::move(redis_servers)),
      changed_(std::move(changed)) {}

void EventSourceMappingApi::add_routes(Router& router) {
  const std::string path = kPath;
  const std::string one = path + "/{UUID}";
  router.add("POST", path,
             [this](const HttpRequest& r, const RouteParams&) { return answer(202, create(r)); });
  router.add("GET", path,
             [this](const HttpRequest& r, const RouteParams&) { return answer(200, list(r)); });
  router.add("GET", one, [this](const HttpRequest&, const RouteParams& p) {
    return answer(200, get(p.at("UUID")));
  });
  router.add("PUT", one, [this](const HttpRequest& r, const RouteParams& p) {
    return answer(202, update(r, p.at("UUID")));
  });
  router.add("DELETE", one, [this](const HttpRequest&, const RouteParams& p) {
    return answer(202, remove(p.at("UUID")));
  });
}

void EventSourceMappingApi::notify() const {
  if (changed_) changed_();
}

void EventSourceMappingApi::function_deleted(const std::string& name) {
  size_t removed = 0;
  {
    std::lock_guard lock(changes_mu_);
    auto result = mappings_.remove_function(name);
    if (!result.ok()) {
      std::fprintf(stderr, "emberd: remove event source mappings of %s: %s\n", name.c_str(),
                   result.error().message().c_str());
      return;
    }
    removed = result.value();
  }
  if (removed == 0) return;
  std::fprintf(stderr, "emberd: removed %zu event source mappings of deleted function %s\n",
               removed, name.c_str());
  notify();
}

ApiResult<std::string> EventSourceMappingApi::existing_function(const std::string& given) {
  EMBER_TRY(std::string name, resolve_function_name(given, "", region_));
  auto record = functions_.get(name);
  if (record.ok()) return name;
  if (record.error().code == ENOENT) return function_not_found(region_, name);
  return service_error("read function " + name + ": " + record.error().message());
}

ApiResult<EventSourceMapping> EventSourceMappingApi::find(const std::string& uuid) {
  auto mapping = mappings_.get(uuid);
  if (mapping.ok()) return std::move(mapping).value();
  if (mapping.error().code == ENOENT) return no_mapping(uuid);
  return service_error("read event source mapping " + uuid + ": " + mapping.error().message());
}

ApiError EventSourceMappingApi::store_error(const std::string& what, const Error& error,
                                            const EventSourceMapping& mapping) {
  if (error.code == EEXIST) {
    std::string existing;
    auto same = mappings_.list({.function_name = mapping.function_name,
                                .event_source_arn = mapping.event_source_arn,
                                .limit = 1});
    if (same.ok() && !same->empty()) existing = " (UUID " + same->front().uuid + ")";
    return resource_conflict("The event source arn (\" " + mapping.event_source_arn +
                             " \") and function (\" " + mapping.function_name +
                             " \") provided mapping already exists" + existing +
                             ". Please update or delete the existing mapping.");
  }
  std::fprintf(stderr, "emberd: %s: %s\n", what.c_str(), error.message().c_str());
  return service_error(what + ": " + error.message());
}

json EventSourceMappingApi::mapping_json(const EventSourceMapping& m) const {
  const bool stream = !m.is_queue();
  json body = {
      {"UUID", m.uuid},
      {"EventSourceMappingArn",
       "arn:aws:lambda:" + region_ + ":000000000000:event-source-mapping:" + m.uuid},
      {"EventSourceArn", m.event_source_arn},
      {"FunctionArn", function_arn(region_, m.function_name)},
      {"BatchSize", m.batch_size},
      {"MaximumBatchingWindowInSeconds", m.max_batching_window_s},
      {"LastModified", epoch_seconds(m.last_modified_ms)},
      {"LastProcessingResult", m.last_processing_result},
      {"State", m.state},
      {"StateTransitionReason", m.state_transition_reason},
      {"FunctionResponseTypes",
       m.report_batch_item_failures ? json::array({"ReportBatchItemFailures"}) : json::array()},
  };
  if (!m.filter_patterns.empty()) {
    json filters = json::array();
    for (const std::string& pattern : m.filter_patterns) filters.push_back({{"Pattern", pattern}});
    body["FilterCriteria"] = {{"Filters", filters}};
  }
  const json on_failure =
      m.on_failure.empty() ? json::object() : json{{"Destination", m.on_failure}};
  if (stream) {
    // Lambda answers every Kinesis setting, defaults included.
    body["StartingPosition"] = m.starting_position;
    if (m.starting_position == "AT_TIMESTAMP") {
      body["StartingPositionTimestamp"] = epoch_seconds(m.starting_position_timestamp_ms);
    }
    body["ParallelizationFactor"] = 1;
    body["MaximumRetryAttempts"] = m.max_retry_attempts;
    body["MaximumRecordAgeInSeconds"] = m.max_record_age_s;
    body["BisectBatchOnFunctionError"] = m.bisect_batch_on_function_error;
    body["TumblingWindowInSeconds"] = 0;
    body["DestinationConfig"] = {{"OnFailure", on_failure}};
  } else {
    if (!m.on_failure.empty()) body["DestinationConfig"] = {{"OnFailure", on_failure}};
    // Receives before OnFailure (Ember's queues); absent when unlimited, as in SQS mappings.
    if (m.max_retry_attempts >= 0) body["MaximumRetryAttempts"] = m.max_retry_attempts;
    if (m.max_concurrency > 0) {
      body["ScalingConfig"] = {{"MaximumConcurrency", m.max_concurrency}};
    }
  }
  return body;
}

ApiResult<json> EventSourceMappingApi::create(const HttpRequest& request) {
  EMBER_TRY(json body, parse_request_object(request.body));
  EMBER_TRY(std::string given_name, optional_string(body, "FunctionName"));
  if (given_name.empty()) {
    return validation_error(
        "1 validation error detected: Value null at 'functionName' failed "
        "to satisfy constraint: Member must not be null");
  }
  EMBER_TRY(EventSourceMapping mapping, read_create_request(body, redis_servers_));
  EMBER_TRY(mapping.function_name, existing_function(given_name));
  mapping.uuid = random_uuid();
  mapping.state = "Creating";
  mapping.state_transition_reason = "USER_INITIATED";
  mapping.last_modified_ms = unix_now_ms();
  json answer_body;
  {
    std::lock_guard lock(changes_mu_);
    auto created = mappings_.create(mapping);
    if (!created.ok()) return store_error("store event source mapping", created.error(), mapping);
    answer_body = mapping_json(created.value());
  }
  notify();
  return answer_body;
}

ApiResult<json> EventSourceMappingApi::get(const std::string& uuid) {
  EMBER_TRY(EventSourceMapping mapping, find(uuid));
  return mapping_json(mapping);
}

ApiResult<json> EventSourceMappingApi::update(const HttpRequest& request, const std::string& uuid) {
  EMBER_TRY(json body, parse_request_object(request.body));
  EMBER_TRY(std::string given_name, optional_string(body, "FunctionName"));
  json answer_body;
  {
    std::lock_guard lock(changes_mu_);
    EMBER_TRY(EventSourceMapping mapping, find(uuid));
    const bool was_enabled = mapping.enabled;
    EMBER_CHECK(read_update_request(body, redis_servers_, mapping));
    if (!given_name.empty()) {
      EMBER_TRY(mapping.function_name, existing_function(given_name));
    }
    if (mapping.enabled != was_enabled) {
      mapping.state = mapping.enabled ? "Enabling" : "Disabling";
    } else {
      mapping.state = "Updating";
    }
    mapping.state_transition_reason = "USER_INITIATED";
    mapping.last_modified_ms = unix_now_ms();
    if (auto stored = mappings_.update(mapping); !stored.ok()) {
      if (stored.error().code == ENOENT) return no_mapping(uuid);  // deleted meanwhile
      return store_error("update event source mapping", stored.error(), mapping);
    }
    answer_body = mapping_json(mapping);
  }
  notify();
  return answer_body;
}

ApiResult<json> EventSourceMappingApi::remove(const std::string& uuid) {
  json answer_body;
  {
    std::lock_guard lock(changes_mu_);
    auto removed = mappings_.remove(uuid);
    if (!removed.ok()) {
      if (removed.error().code == ENOENT) return no_mapping(uuid);
      return service_error("delete event source mapping " + uuid + ": " +
                           removed.error().message());
    }
    // Gone from the store at once; the answer says Deleting as Lambda's does while its pollers let
    // go.
    EventSourceMapping mapping = std::move(removed).value();
    mapping.state = "Deleting";
    mapping.state_transition_reason = "USER_INITIATED";
    answer_body = mapping_json(mapping);
  }
  notify();
  return answer_body;
}

ApiResult<json> EventSourceMappingApi::list(const HttpRequest& request) {
  EMBER_TRY(size_t max_items, page_size(request.query_value("MaxItems")));
  EventSourceMappingQuery query{.limit = max_items + 1};
  const std::string marker = request.query_value("Marker");
  if (!marker.empty()) {
    const bool digits =
        marker.size() <= 18 && marker.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) {
      return invalid_parameter("Marker '" + marker +
                               "' is not one emberd gave: pass the NextMarker of the previous "
                               "ListEventSourceMappings answer, or leave Marker out");
    }
    query.after_sequence = std::stoll(marker);
  }
  const std::string function = request.query_value("FunctionName");
  if (!function.empty()) {
    EMBER_TRY(query.function_name, resolve_function_name(function, "", region_));
  }
  query.event_source_arn = request.query_value("EventSourceArn");
  if (!query.event_source_arn.empty() && !parse_redis_arn(query.event_source_arn).ok()) {
    // The server need not be configured now: mappings outlive a restart without it.
    return invalid_parameter("EventSourceArn '" + query.event_source_arn +
                             "' is not a Redis source: give arn:ember:redis:::SERVER/stream/KEY "
                             "or arn:ember:redis:::SERVER/queue/KEY");
  }
  auto page = mappings_.list(query);
  if (!page.ok()) {
    return service_error("list event source mappings: " + page.error().message());
  }
  json mappings = json::array();
  for (size_t i = 0; i < page->size() && i < max_items; ++i) {
    mappings.push_back(mapping_json((*page)[i]));
  }
  json body = {{"EventSourceMappings", mappings}};
  if (page->size() > max_items) {
    body["NextMarker"] = std::to_string((*page)[max_items - 1].sequence);
  }
  return body;
}

}  // namespace ember::host
