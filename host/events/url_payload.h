// Function URLs' payload format 2.0: an HTTP request as the event, the result as the response.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "host/api/api_error.h"
#include "host/api/http_message.h"

namespace ember::host {

// What the event needs beyond the request itself.
struct UrlEventContext {
  std::string url_id;      // requestContext.apiId and domainPrefix
  std::string raw_path;    // the path after the URL's base, as sent: "/", "/a/b%20c/"
  std::string request_id;  // requestContext.requestId, also the invocation's id
  int64_t now_ms = 0;      // Unix time of the request, for time and timeEpoch
};

// The event Lambda hands a function for a request to its URL: version "2.0", rawPath,
// rawQueryString, cookies (from the Cookie header, which headers then leave out),
// lower-case headers with repeats joined by commas, queryStringParameters (decoded, repeats
// joined by commas), requestContext, and the body: as text when the content type is
// text-like and the bytes are UTF-8, else base64 with isBase64Encoded. Members Lambda omits
// when empty (cookies, queryStringParameters, body) are left out.
nlohmann::ordered_json url_event(const HttpRequest& request, const UrlEventContext& context);

// Whether Lambda passes a body of this Content-Type as text: text/*, JSON, XML, JavaScript,
// form data, and the +json / +xml families. Parameters after ';' are ignored.
bool is_text_content_type(std::string_view content_type);

// requestContext.time: "01/Dec/2026:19:54:02 +0000".
std::string url_event_time(int64_t unix_ms);

// The HTTP response for a function's result (its JSON payload), as Lambda maps it: an
// object with statusCode gives the status (a number or a numeric string, 100-599), headers,
// cookies (one Set-Cookie each) and body (base64-decoded when isBase64Encoded); Content-Type
// defaults to application/json. Any other JSON value is a 200 application/json whose body
// is the value itself, compact, except a string, whose body is its text. A result Lambda
// could not map (not JSON, a bad statusCode, bad base64) is the 502 of a function error.
HttpResponse url_response(std::string_view payload);

// A function error: 502 with the body "Internal Server Error", as Lambda answers.
HttpResponse url_function_error_response();
// No capacity: 429 {"Message":"Rate Exceeded."}, as Lambda answers a throttled URL.
HttpResponse url_throttled_response();

// A function URL's Cors settings (Lambda's Cors shape).
struct CorsConfig {
  bool allow_credentials = false;
  std::vector<std::string> allow_headers;
  std::vector<std::string> allow_methods;
  std::vector<std::string> allow_origins;
  std::vector<std::string> expose_headers;
  int64_t max_age = 0;  // seconds; 0 sends no Access-Control-Max-Age

  bool operator==(const CorsConfig&) const = default;
};

// Reads and checks a Cors object as Lambda does: list sizes and item lengths from its model
// (ValidationException), methods limited to HTTP methods and "*"
// (InvalidParameterValueException), MaxAge 0-86400; wrong JSON types are
// InvalidRequestContentException.
ApiResult<CorsConfig> read_cors(const nlohmann::json& cors);
// Every member, as Lambda answers Cors.
nlohmann::json cors_json(const CorsConfig& cors);

// An OPTIONS request with Origin and Access-Control-Request-Method.
bool is_preflight(const HttpRequest& request);
// The answer to a preflight, from the config alone (the function is not invoked): 200 with
// Access-Control-Allow-Origin/-Methods/-Headers/-Max-Age/-Credentials when the Origin is
// allowed, without them otherwise (the browser then refuses).
HttpResponse preflight_response(const CorsConfig& cors, const HttpRequest& request);
// On a response through the URL: replaces the function's own Access-Control-* headers
// (the configured ones take precedence) with Access-Control-Allow-Origin, -Allow-Credentials
// and -Expose-Headers when the request's Origin header (`origin`) is allowed.
void add_cors_headers(const CorsConfig& cors, const std::string& origin, HttpResponse& response);

}  // namespace ember::host
