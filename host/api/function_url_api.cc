// FunctionUrlApi: the URL config routes with Lambda's checks, and serving the URLs.
#include "host/api/function_url_api.h"

#include <time.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/utc_time.h"
#include "host/api/function_validation.h"
#include "host/api/lambda_api.h"
#include "host/api/lambda_json.h"
#include "host/api/later_response.h"
#include "host/api/uuid.h"
#include "host/events/url_payload.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr char kConfigPath[] = "/2021-10-31/functions/{name}/url";
constexpr char kUrlPrefix[] = "/lambda-url/";
constexpr size_t kMaxEventBytes = 6 * 1024 * 1024;  // Lambda's synchronous payload limit
constexpr char kAwsIam[] = "AWS_IAM";
constexpr char kQualifierPattern[] = "((?!^\\d+$)^[0-9a-zA-Z-_]+$)";

// A URL config's CreationTime and LastModifiedTime: "2026-12-01T19:54:02.123000Z".
std::string url_timestamp(int64_t unix_ms) { return iso8601_utc(unix_ms, "000Z"); }

// Lambda's FunctionUrlQualifier: an alias name, 1-128 of [0-9a-zA-Z-_], not all digits
// (so neither a version nor $LATEST).
ApiStatus check_qualifier(const std::string& qualifier) {
  const bool allowed = !qualifier.empty() && qualifier.size() <= 128 &&
                       qualifier.find_first_not_of(
                           "0123456789abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_") == std::string::npos &&
                       qualifier.find_first_not_of("0123456789") != std::string::npos;
  if (allowed) return {};
  return constraint_violation(
      "qualifier", qualifier,
      std::string("Member must satisfy regular expression pattern: ") + kQualifierPattern);
}

ApiStatus check_auth_type(const std::string& auth_type) {
  if (auth_type == "NONE" || auth_type == kAwsIam) return {};
  return constraint_violation("authType", auth_type,
                              "Member must satisfy enum value set: [AWS_IAM, NONE]");
}

ApiStatus check_invoke_mode(const std::string& invoke_mode) {
  if (invoke_mode.empty() || invoke_mode == "BUFFERED") return {};
  if (invoke_mode == "RESPONSE_STREAM") {
    return invalid_parameter(
        "InvokeMode RESPONSE_STREAM is not supported by Ember yet: responses are buffered. Use "
        "InvokeMode BUFFERED (the default).");
  }
  return constraint_violation("invokeMode", invoke_mode,
                              "Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]");
}

// AuthType, InvokeMode and Cors from a Create or Update body onto config (absent members
// leave it as it is).
ApiStatus read_config_fields(const json& body, FunctionUrlConfig& config) {
  EMBER_TRY(const std::string auth_type, optional_string(body, "AuthType"));
  if (!auth_type.empty()) {
    EMBER_CHECK(check_auth_type(auth_type));
    config.auth_type = auth_type;
  }
  EMBER_TRY(const std::string invoke_mode, optional_string(body, "InvokeMode"));
  if (!invoke_mode.empty()) {
    EMBER_CHECK(check_invoke_mode(invoke_mode));
    config.invoke_mode = invoke_mode;
  }
  if (auto cors = body.find("Cors"); cors != body.end() && !cors->is_null()) {
    EMBER_TRY(const CorsConfig parsed, read_cors(*cors));
    config.cors = cors_json(parsed).dump();
  }
  return {};
}

ApiResult<json> parse_body(const std::string& body) {
  return body.empty() ? ApiResult<json>(json::object()) : parse_request_object(body);
}

ApiError no_url_config() {
  return resource_not_found("The resource you requested does not exist.");
}

// Lambda's own answers on a URL (not the function's): {"Message":...} with x-amzn-ErrorType.
HttpResponse url_error(int status, const std::string& type, const std::string& message) {
  HttpResponse response = json_response(status, json{{"Message", message}});
  response.set_header("x-amzn-ErrorType", type);
  return response;
}

// Every request to an AWS_IAM URL, when emberd has no keys to check a signature with.
ApiError no_keys_refusal() {
  return {403, "AccessDeniedException",
          "Forbidden. This function URL's AuthType is AWS_IAM, but emberd was started without "
          "--credentials, so no signature can be checked: restart emberd with --credentials "
          "FILE and sign requests (SigV4, service lambda) with one of its keys, or make the URL "
          "public with AuthType NONE."};
}

// The 403 for a request an AWS_IAM URL refuses, as Lambda's URLs answer: an unsigned request
// gets {"Message":"Forbidden"}; a signed one that fails a check gets AWS's SigV4 refusal, its
// reason in "message".
HttpResponse url_refusal(const ApiError& refusal) {
  if (refusal.type == "MissingAuthenticationTokenException") {
    return url_error(403, "AccessDeniedException", "Forbidden");
  }
  if (refusal.type == "AccessDeniedException") return url_error(403, refusal.type, refusal.message);
  HttpResponse response = json_response(403, json{{"message", refusal.message}});
  response.set_header("x-amzn-ErrorType", refusal.type);
  return response;
}

}  // namespace

FunctionUrlApi::FunctionUrlApi(FunctionStore& functions, FunctionUrlStore& urls,
                               InvocationRunner& runner, std::string base_url)
    : functions_(functions), urls_(urls), runner_(runner), base_url_(std::move(base_url)) {}

std::string FunctionUrlApi::function_url(const std::string& url_id) const {
  return base_url_ + kUrlPrefix + url_id + "/";
}

void FunctionUrlApi::add_routes(Router& router) {
  auto route =
      [this](HttpResponse (FunctionUrlApi::*method)(const HttpRequest&, const RouteParams&)) {
        return [this, method](const HttpRequest& request, const RouteParams& params) {
          return (this->*method)(request, params);
        };
      };
  const std::string path = kConfigPath;
  router.add("POST", path, route(&FunctionUrlApi::create));
  router.add("GET", path, route(&FunctionUrlApi::get));
  router.add("PUT", path, route(&FunctionUrlApi::update));
  router.add("DELETE", path, route(&FunctionUrlApi::remove));
  router.add("GET", path + "s", route(&FunctionUrlApi::list));
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}) {
    router.add(method, std::string(kUrlPrefix) + "{id}/{path+}", route(&FunctionUrlApi::serve));
  }
}

void FunctionUrlApi::function_deleted(const std::string& name) {
  if (auto removed = urls_.remove(name); !removed.ok() && removed.error().code != ENOENT) {
    std::fprintf(stderr, "emberd: delete the URL of %s: %s\n", name.c_str(),
                 removed.error().message().c_str());
  }
}

ApiResult<std::string> FunctionUrlApi::function_name(const HttpRequest& request,
                                                     const RouteParams& params,
                                                     bool with_qualifier) {
  std::string qualifier;
  if (with_qualifier && request.query.contains("Qualifier")) {
    qualifier = request.query_value("Qualifier");
    EMBER_CHECK(check_qualifier(qualifier));
  }
  EMBER_TRY(std::string name,
            resolve_function_name(params.at("name"), qualifier, runner_.region()));
  auto record = functions_.get(name);
  if (record.ok()) return name;
  if (record.error().code == ENOENT) return function_not_found(runner_.region(), name);
  return service_error("read function " + name + ": " + record.error().message());
}

ApiResult<FunctionUrlConfig> FunctionUrlApi::config_of(const std::string& name) {
  auto config = urls_.get(name);
  if (config.ok()) return std::move(config).value();
  if (config.error().code == ENOENT) return no_url_config();
  return service_error("read the URL of " + name + ": " + config.error().message());
}

std::optional<HttpResponse> FunctionUrlApi::refuse_unauthorized(const FunctionUrlConfig& config,
                                                                const HttpRequest& request) const {
  if (config.auth_type != kAwsIam) return std::nullopt;
  ApiError refusal = no_keys_refusal();
  if (authenticator_ != nullptr && authenticator_->has_keys()) {
    const ApiStatus verified =
        authenticator_->verify(request, static_cast<int64_t>(::time(nullptr)), {"lambda"});
    if (verified.ok()) return std::nullopt;
    refusal = verified.error();
  }
  log_refused_request(request, refusal, "function URL");
  return url_refusal(refusal);
}

namespace {

// The members every answer has; LastModifiedTime and a default InvokeMode as the operation
// shows them.
json config_json(const FunctionUrlConfig& config, const std::string& url, const std::string& arn,
                 bool last_modified, bool default_invoke_mode) {
  json body = {{"FunctionUrl", url},
               {"FunctionArn", arn},
               {"AuthType", config.auth_type},
               {"CreationTime", url_timestamp(config.creation_ms)}};
  if (last_modified) body["LastModifiedTime"] = url_timestamp(config.last_modified_ms);
  if (!config.cors.empty()) body["Cors"] = json::parse(config.cors, nullptr, false);
  if (!config.invoke_mode.empty()) {
    body["InvokeMode"] = config.invoke_mode;
  } else if (default_invoke_mode) {
    body["InvokeMode"] = "BUFFERED";
  }
  return body;
}

}  // namespace

HttpResponse FunctionUrlApi::create(const HttpRequest& request, const RouteParams& params) {
  auto name = function_name(request, params);
  if (!name.ok()) return error_response(name.error());
  auto body = parse_body(request.body);
  if (!body.ok()) return error_response(body.error());
  FunctionUrlConfig config{.function_name = name.value()};
  if (auto read = read_config_fields(body.value(), config); !read.ok()) {
    return error_response(read.error());
  }
  if (config.auth_type.empty()) {
    return error_response(validation_error(
        "1 validation error detected: Value null at 'authType' failed to satisfy constraint: "
        "Member must not be null"));
  }
  config.creation_ms = config.last_modified_ms = unix_now_ms();
  const std::string arn = function_arn(runner_.region(), config.function_name);
  auto created = urls_.create(config);
  if (!created.ok()) {
    if (created.error().code == EEXIST) {
      return error_response(resource_conflict(
          "Failed to create function url config for [functionArn = " + arn +
          "]. Error message:  FunctionUrlConfig exists for this Lambda function"));
    }
    return error_response(service_error("store the URL of " + config.function_name + ": " +
                                        created.error().message()));
  }
  // A DeleteFunction that ran since the check above may have missed this URL.
  if (!functions_.get(config.function_name).ok()) {
    function_deleted(config.function_name);
    return error_response(function_not_found(runner_.region(), config.function_name));
  }
  return json_response(
      201, config_json(created.value(), function_url(created->url_id), arn, false, false));
}

HttpResponse FunctionUrlApi::get(const HttpRequest& request, const RouteParams& params) {
  auto name = function_name(request, params);
  if (!name.ok()) return error_response(name.error());
  auto config = config_of(name.value());
  if (!config.ok()) return error_response(config.error());
  return json_response(200, config_json(config.value(), function_url(config->url_id),
                                        function_arn(runner_.region(), *name), true, true));
}

HttpResponse FunctionUrlApi::update(const HttpRequest& request, const RouteParams& params) {
  auto name = function_name(request, params);
  if (!name.ok()) return error_response(name.error());
  auto body = parse_body(request.body);
  if (!body.ok()) return error_response(body.error());
  auto config = config_of(name.value());
  if (!config.ok()) return error_response(config.error());
  if (auto read = read_config_fields(body.value(), config.value()); !read.ok()) {
    return error_response(read.error());
  }
  config->last_modified_ms = unix_now_ms();
  if (auto stored = urls_.update(config.value()); !stored.ok()) {
    if (stored.error().code == ENOENT) return error_response(no_url_config());
    return error_response(
        service_error("store the URL of " + *name + ": " + stored.error().message()));
  }
  return json_response(200, config_json(config.value(), function_url(config->url_id),
                                        function_arn(runner_.region(), *name), true, false));
}

HttpResponse FunctionUrlApi::remove(const HttpRequest& request, const RouteParams& params) {
  auto name = function_name(request, params);
  if (!name.ok()) return error_response(name.error());
  if (auto removed = urls_.remove(name.value()); !removed.ok()) {
    if (removed.error().code == ENOENT) return error_response(no_url_config());
    return error_response(
        service_error("delete the URL of " + *name + ": " + removed.error().message()));
  }
  HttpResponse response;
  response.status = 204;
  return response;
}

HttpResponse FunctionUrlApi::list(const HttpRequest& request, const RouteParams& params) {
  const std::string max_text = request.query_value("MaxItems");
  if (request.query.contains("MaxItems")) {
    const bool digits = !max_text.empty() && max_text.size() <= 9 &&
                        max_text.find_first_not_of("0123456789") == std::string::npos;
    const long value = digits ? std::stol(max_text) : -1;
    if (value < 1 || value > 50) {
      return error_response(
          constraint_violation("maxItems", max_text,
                               value < 1 ? "Member must have value greater than or equal to 1"
                                         : "Member must have value less than or equal to 50"));
    }
  }
  auto name = function_name(request, params, false);
  if (!name.ok()) return error_response(name.error());
  json configs = json::array();
  // One URL a function at most: a page never needs a NextMarker, and any Marker is past it.
  if (request.query_value("Marker").empty()) {
    auto config = urls_.get(name.value());
    if (config.ok()) {
      configs.push_back(config_json(config.value(), function_url(config->url_id),
                                    function_arn(runner_.region(), *name), true, true));
    } else if (config.error().code != ENOENT) {
      return error_response(service_error(config.error().message()));
    }
  }
  return json_response(200, json{{"FunctionUrlConfigs", configs}});
}

HttpResponse FunctionUrlApi::serve(const HttpRequest& request, const RouteParams& params) {
  const std::string& id = params.at("id");
  auto config = urls_.find_by_url_id(id);
  auto record =
      config.ok() ? functions_.get(config->function_name) : Result<FunctionRecord>(config.error());
  if (!record.ok()) {
    if (record.error().code != ENOENT) {
      std::fprintf(stderr, "emberd: function URL %s: %s\n", id.c_str(),
                   record.error().message().c_str());
      return url_error(500, "ServiceException", "Internal Server Error");
    }
    // Lambda answers an unknown URL as a forbidden one.
    return url_error(403, "AccessDeniedException",
                     "Forbidden. No function URL has the id " + id +
                         " on this emberd (deleted, or never created): see "
                         "GetFunctionUrlConfig for the function's URL.");
  }
  CorsConfig cors;
  const bool has_cors = !config->cors.empty();
  if (has_cors) {
    auto parsed = read_cors(json::parse(config->cors, nullptr, false));
    if (parsed.ok()) cors = std::move(parsed).value();
  }
  if (has_cors && is_preflight(request)) return preflight_response(cors, request);
  if (auto refused = refuse_unauthorized(config.value(), request)) {
    if (has_cors) add_cors_headers(cors, request.header("origin"), *refused);
    if (request.method == "HEAD") refused->body.clear();
    refused->set_header("x-amzn-RequestId", random_uuid());
    return std::move(*refused);
  }

  // The path after "/lambda-url/<id>", as sent; "/" at the URL's root.
  const size_t rest = request.path.find('/', std::string_view(kUrlPrefix).size());
  UrlEventContext context{.url_id = id,
                          .raw_path = rest == std::string::npos ? "/" : request.path.substr(rest),
                          .request_id = random_uuid(),
                          .now_ms = unix_now_ms()};
  const std::string payload = url_event(request, context).dump();
  // Every answer gets the URL's CORS headers and its request id; HEAD gets no body.
  auto finish = [has_cors, cors, origin = request.header("origin"),
                 head = request.method == "HEAD",
                 request_id = context.request_id](HttpResponse response) {
    if (has_cors) add_cors_headers(cors, origin, response);
    if (head) response.body.clear();
    response.set_header("x-amzn-RequestId", request_id);
    return response;
  };
  if (payload.size() > kMaxEventBytes) {
    return finish(url_error(413, "RequestTooLargeException",
                            "Request must be smaller than " + std::to_string(kMaxEventBytes) +
                                " bytes for the InvokeFunction operation (the body as the "
                                "function URL's event, base64 when binary)"));
  }
  // Answered when the invocation ends: meanwhile no handler thread waits on the VM.
  auto later = std::make_shared<LaterResponse>();
  runner_.run_async(
      record.value(),
      InvocationInput{
          .request_id = context.request_id, .payload = payload, .received = request.received},
      [later, finish, request_id = context.request_id](Result<InvocationResult> ran) {
        HttpResponse response;
        if (!ran.ok()) {
          response = invoke_error_type(ran.error()) == InvokeErrorType::kTooManyRequests
                         ? url_throttled_response()
                         : url_error(500, "ServiceException",
                                     "Internal Server Error (request " + request_id +
                                         "; emberd's log has the cause)");
        } else if (!ran->outcome.function_error.empty()) {
          response = url_function_error_response();
        } else {
          response = url_response(ran->outcome.payload);
        }
        later->give(finish(std::move(response)));
      });
  return deferred_response(later);
}

std::string function_url_base(std::string_view description) {
  if (!description.starts_with("tcp:")) return "http://localhost";
  std::string_view host_port = description.substr(4);
  const size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos) return "http://localhost";
  std::string host(host_port.substr(0, colon));
  if (host == "0.0.0.0" || host == "[::]") host = "localhost";
  return "http://" + host + std::string(host_port.substr(colon));
}

}  // namespace ember::host
