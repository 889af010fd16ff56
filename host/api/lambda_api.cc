// LambdaApi: the route table, body limits, rejections and the helpers routes share.
#include "host/api/lambda_api.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>

#include "host/api/function_validation.h"
#include "host/api/lambda_json.h"
#include "host/api/uuid.h"

namespace ember::host {
namespace {

constexpr std::string_view kFunctions = "/2015-03-31/functions";

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string two_decimals(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

}  // namespace

std::string ember_timing_header(const InvokeTiming& t) {
  return std::string("start=") + (t.cold ? "cold" : "warm") + ";pool=" + (t.from_pool ? "1" : "0") +
         ";queue=" + two_decimals(t.queue_ms) +
         ";restore=" + two_decimals(t.restore_ms) + ";net=" + two_decimals(t.network_ms) +
         ";boot=" + two_decimals(t.boot_ms) +
         ";init=" + two_decimals(t.init_ms) + ";handler=" + two_decimals(t.handler_ms) +
         ";total=" + two_decimals(t.total_ms);
}

LambdaApi::LambdaApi(FunctionStore& functions, CodeStore& code, FunctionLogs& logs,
                     Invoker& invoker, LambdaApiOptions options)
    : functions_(functions),
      code_(code),
      logs_(logs),
      invoker_(invoker),
      options_(options),
      runner_(functions, code, logs, invoker, options.region) {
  auto route = [this](HttpResponse (LambdaApi::*method)(const HttpRequest&, const Params&)) {
    return [this, method](const HttpRequest& request, const Params& params) {
      return (this->*method)(request, params);
    };
  };
  const std::string functions_path(kFunctions);
  router_.add("POST", functions_path, route(&LambdaApi::create_function));
  router_.add("GET", functions_path, route(&LambdaApi::list_functions));
  router_.add("GET", functions_path + "/{name}", route(&LambdaApi::get_function));
  router_.add("DELETE", functions_path + "/{name}", route(&LambdaApi::delete_function));
  router_.add("GET", functions_path + "/{name}/configuration",
              route(&LambdaApi::get_configuration));
  router_.add("PUT", functions_path + "/{name}/configuration",
              route(&LambdaApi::update_configuration));
  router_.add("PUT", functions_path + "/{name}/code", route(&LambdaApi::update_code));
  router_.add("POST", functions_path + "/{name}/invocations", route(&LambdaApi::invoke));
  router_.add("GET", "/ember/v1/functions/{name}/logs", route(&LambdaApi::read_logs));
  router_.add("GET", "/ember/v1/code/{file}", route(&LambdaApi::download_code));
  router_.add("GET", "/ember/v1/functions/{name}/async", route(&LambdaApi::async_status));
}

size_t LambdaApi::body_limit(std::string_view method, std::string_view path) const {
  if (method == "POST" && ends_with(path, "/invocations")) return options_.max_invoke_payload_bytes;
  if (path.starts_with("/lambda-url/")) return options_.max_invoke_payload_bytes;  // function URLs
  const bool create = method == "POST" && (path == kFunctions || path == "/2015-03-31/functions/");
  if (create || (method == "PUT" && ends_with(path, "/code"))) {
    return options_.max_code_request_bytes;
  }
  return options_.max_other_request_bytes;
}

HttpResponse LambdaApi::reject(HttpRejection why, std::string_view method, std::string_view path,
                               std::string_view detail) const {
  HttpResponse response;
  switch (why) {
    case HttpRejection::kMalformed:
      response = error_response(
          {400, "BadRequestException", "Malformed HTTP request: " + std::string(detail)});
      break;
    case HttpRejection::kHeaderTooLarge:
      response = error_response({431, "RequestHeaderFieldsTooLargeException",
                                 "The request line and headers are too large"});
      break;
    case HttpRejection::kBodyTooLarge: {
      std::string operation;
      if (method == "POST" && ends_with(path, "/invocations")) {
        operation = " for the InvokeFunction operation";
      } else if (method == "POST") {
        operation = " for the CreateFunction operation";
      } else if (method == "PUT" && ends_with(path, "/code")) {
        operation = " for the UpdateFunctionCode operation";
      }
      response = error_response(request_too_large("Request must be smaller than " +
                                                  std::to_string(body_limit(method, path)) +
                                                  " bytes" + operation));
      break;
    }
    case HttpRejection::kTooManyConnections:
      response = error_response({503, "ServiceUnavailableException",
                                 "Too many connections: " + std::string(detail) +
                                     ". Retry later, or close idle connections"});
      response.set_header("Retry-After", "1");
      break;
  }
  response.set_header("x-amzn-RequestId", random_uuid());
  return response;
}

HttpResponse LambdaApi::handle(const HttpRequest& request) {
  HttpResponse response;
  try {
    const Router::Match match = router_.match(request.method, request.path);
    if (match.handler != nullptr) {
      response = (*match.handler)(request, match.params);
    } else if (match.path_known) {
      response = error_response(unknown_operation(
          405, "Method " + request.method + " is not allowed on " + request.path));
    } else {
      response = error_response(
          unknown_operation(404, "No operation at " + request.method + " " + request.path));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emberd: %s %s failed: %s\n", request.method.c_str(), request.path.c_str(),
                 e.what());
    response = error_response(service_error(std::string("Internal error: ") + e.what()));
  }
  if (!response.later && response.header("x-amzn-RequestId").empty()) {
    response.set_header("x-amzn-RequestId", random_uuid());
  }
  return response;
}

ApiResult<FunctionRecord> LambdaApi::find_function(const HttpRequest& request,
                                                   const Params& params) {
  EMBER_TRY(
      const std::string name,
      resolve_function_name(params.at("name"), request.query_value("Qualifier"), options_.region));
  auto record = functions_.get(name);
  if (!record.ok()) {
    if (record.error().code == ENOENT) return function_not_found(options_.region, name);
    return internal_error("read function " + name, record.error());
  }
  return std::move(record).value();
}

ApiResult<StoredCode> LambdaApi::store_code(const std::string& zip) {
  auto checked = check_zip(zip, options_.zip_limits);
  if (!checked.ok()) return invalid_parameter(checked.error().context);
  auto stored = code_.put(zip);
  if (!stored.ok()) return internal_error("store code", stored.error());
  return std::move(stored).value();
}

void LambdaApi::drop_code_if_unused(const std::string& sha256_hex) {
  auto in_use = functions_.code_in_use();
  if (!in_use.ok()) {
    std::fprintf(stderr, "emberd: keep code %s: %s\n", sha256_hex.c_str(),
                 in_use.error().message().c_str());
    return;
  }
  if (in_use->contains(sha256_hex)) return;
  if (auto removed = code_.remove(sha256_hex); !removed.ok()) {
    std::fprintf(stderr, "emberd: %s\n", removed.error().message().c_str());
  }
}

ApiError LambdaApi::internal_error(const std::string& what, const Error& error) const {
  std::fprintf(stderr, "emberd: %s: %s\n", what.c_str(), error.message().c_str());
  return service_error(what + ": " + error.message());
}

}  // namespace ember::host
