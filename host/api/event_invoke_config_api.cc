// EventInvokeConfigApi: Put replaces, Update merges, Get, Delete and List, with Lambda's checks.
#include "host/api/event_invoke_config_api.h"

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "host/api/function_validation.h"
#include "host/api/lambda_api.h"
#include "host/api/lambda_json.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr char kPath[] = "/2019-09-25/functions/{name}/event-invoke-config";

ApiError no_config(const std::string& region, const std::string& name) {
  return resource_not_found("The function " + function_arn(region, name) +
                            ":$LATEST doesn't have an EventInvokeConfig");
}

// Reads an optional integer member within [low, high] into `out`.
template <typename T>
ApiStatus read_bounded(const json& body, const char* key, const char* field, int64_t low,
                       int64_t high, std::optional<T>& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_number_integer()) {
    return invalid_request_content(std::string("Could not parse request body into json: ") + key +
                                   " must be an integer");
  }
  const int64_t value = it->get<int64_t>();
  if (value < low) {
    return constraint_violation(field, std::to_string(value),
                                "Member must have value greater than or equal to " +
                                    std::to_string(low));
  }
  if (value > high) {
    return constraint_violation(field, std::to_string(value),
                                "Member must have value less than or equal to " +
                                    std::to_string(high));
  }
  out = static_cast<T>(value);
  return {};
}

// DestinationConfig.<which>.Destination, when the request has it.
ApiStatus read_destination(const json& body, const char* which, const char* field,
                           std::string& out) {
  auto config = body.find("DestinationConfig");
  if (config == body.end() || config->is_null()) return {};
  if (!config->is_object()) {
    return invalid_request_content(
        "Could not parse request body into json: DestinationConfig must be an object");
  }
  auto target = config->find(which);
  if (target == config->end() || target->is_null()) return {};
  if (!target->is_object()) {
    return invalid_request_content(std::string("Could not parse request body into json: ") +
                                   "DestinationConfig." + which + " must be an object");
  }
  out.clear();  // {} removes the destination
  EMBER_TRY(out, optional_string(*target, "Destination"));
  if (out.size() > 350) {
    return constraint_violation(field, out, "Member must have length less than or equal to 350");
  }
  return check_function_target(out, std::string("destination ") + which);
}

json config_json(const EventInvokeConfig& config, const std::string& region) {
  json body = {
      {"LastModified", static_cast<double>(config.last_modified_ms) / 1000.0},
      {"FunctionArn", function_arn(region, config.function_name) + ":$LATEST"},
  };
  if (config.max_retries) body["MaximumRetryAttempts"] = *config.max_retries;
  if (config.max_event_age_s) body["MaximumEventAgeInSeconds"] = *config.max_event_age_s;
  auto destination = [](const std::string& arn) {
    return arn.empty() ? json::object() : json{{"Destination", arn}};
  };
  body["DestinationConfig"] = {{"OnSuccess", destination(config.on_success)},
                               {"OnFailure", destination(config.on_failure)}};
  return body;
}

}  // namespace

void EventInvokeConfigApi::add_routes(Router& router) {
  const std::string path = kPath;
  router.add("PUT", path, [this](const HttpRequest& r, const RouteParams& p) {
    return put(r, p, false);
  });
  router.add("POST", path, [this](const HttpRequest& r, const RouteParams& p) {
    return put(r, p, true);
  });
  router.add("GET", path, [this](const HttpRequest& r, const RouteParams& p) { return get(r, p); });
  router.add("DELETE", path,
             [this](const HttpRequest& r, const RouteParams& p) { return remove(r, p); });
  router.add("GET", path + "/list",
             [this](const HttpRequest& r, const RouteParams& p) { return list(r, p); });
}

ApiResult<std::string> EventInvokeConfigApi::function_name(const HttpRequest& request,
                                                           const RouteParams& params) {
  EMBER_TRY(std::string name,
            resolve_function_name(params.at("name"), request.query_value("Qualifier"), region_));
  auto record = functions_.get(name);
  if (record.ok()) return name;
  if (record.error().code == ENOENT) return function_not_found(region_, name);
  return service_error("read function " + name + ": " + record.error().message());
}

HttpResponse EventInvokeConfigApi::put(const HttpRequest& request, const RouteParams& params,
                                       bool merge) {
  auto name = function_name(request, params);
  if (!name.ok()) return error_response(name.error());
  auto parsed = parse_request_object(request.body);
  if (!parsed.ok()) return error_response(parsed.error());
  const json& body = parsed.value();

  EventInvokeConfig config{.function_name = name.value()};
  if (merge) {
    auto existing = configs_.get(name.value());
    if (!existing.ok()) {
      if (existing.error().code == ENOENT) return error_response(no_config(region_, *name));
      return error_response(service_error(existing.error().message()));
    }
    config = existing.value();
  }
  const auto checked = [&]() -> ApiStatus {
    EMBER_CHECK(read_bounded(body, "MaximumRetryAttempts", "maximumRetryAttempts", 0, 2,
                             config.max_retries));
    EMBER_CHECK(read_bounded(body, "MaximumEventAgeInSeconds", "maximumEventAgeInSeconds", 60,
                             21600, config.max_event_age_s));
    EMBER_CHECK(read_destination(body, "OnSuccess", "destinationConfig.onSuccess.destination",
                                 config.on_success));
    return read_destination(body, "OnFailure", "destinationConfig.onFailure.destination",
                            config.on_failure);
  }();
  if (!checked.ok()) return error_response(checked.error());
  config.last_modified_ms = unix_now_ms();
  if (auto stored = configs_.put(config); !stored.ok()) {
    std::fprintf(stderr, "emberd: store event invoke config: %s\n",
                 stored.error().message().c_str());
    return error_response(service_error("store event invoke config: " + stored.error().message()));
  }
  return json_response(200, config_json(config, region_));
}

HttpResponse EventInvokeConfigApi::get(const HttpRequest& request, const RouteParams& params) {
  auto name = function_name(request, params);
  if (!name.ok()) return error_response(name.error());
  auto config = configs_.get(name.value());
  if (!config.ok()) {
    if (config.error().code == ENOENT) return error_response(no_config(region_, *name));
    return error_response(service_error(config.error().message()));
  }
  return json_response(200, config_json(config.value(), region_));
}

HttpResponse EventInvokeConfigApi::remove(const HttpRequest& request, const RouteParams& params) {
  auto name = function_name(request, params);
  if (!name.ok()) return error_response(name.error());
  if (auto removed = configs_.remove(name.value()); !removed.ok()) {
    if (removed.error().code == ENOENT) return error_response(no_config(region_, *name));
    return error_response(service_error(removed.error().message()));
  }
  HttpResponse response;
  response.status = 204;
  return response;
}

HttpResponse EventInvokeConfigApi::list(const HttpRequest& request, const RouteParams& params) {
  const std::string max_text = request.query_value("MaxItems");
  if (!max_text.empty()) {
    const bool digits =
        max_text.size() <= 9 && max_text.find_first_not_of("0123456789") == std::string::npos;
    const long value = digits ? std::stol(max_text) : -1;
    if (value < 1 || value > 50) {
      return error_response(constraint_violation(
          "maxItems", max_text,
          value < 1 ? "Member must have value greater than or equal to 1"
                    : "Member must have value less than or equal to 50"));
    }
  }
  auto name = function_name(request, params);
  if (!name.ok()) return error_response(name.error());
  json configs = json::array();
  // Only $LATEST exists, so there is at most one: a page never needs a NextMarker.
  if (request.query_value("Marker").empty()) {
    auto config = configs_.get(name.value());
    if (config.ok()) {
      configs.push_back(config_json(config.value(), region_));
    } else if (config.error().code != ENOENT) {
      return error_response(service_error(config.error().message()));
    }
  }
  return json_response(200, json{{"FunctionEventInvokeConfigs", configs}});
}

}  // namespace ember::host
