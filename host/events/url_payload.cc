// Payload format 2.0 both ways, and CORS for function URLs, as Lambda maps them.
#include "host/events/url_payload.h"

#include <strings.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>

#include "host/store/encoding.h"

namespace ember::host {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF): only such text can
// go into the event's JSON as it is.
bool is_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t code = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if ((byte & 0xE0) == 0xC0) {
      extra = 1;
      code = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      extra = 2;
      code = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      extra = 3;
      code = byte & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// The query's parameters, decoded, a repeated name's values joined by commas in order.
ordered_json query_parameters(std::string_view raw_query) {
  ordered_json parameters = ordered_json::object();
  while (!raw_query.empty()) {
    const size_t amp = raw_query.find('&');
    const std::string_view pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view() : raw_query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t equals = pair.find('=');
    const std::string name = percent_decode(pair.substr(0, equals), true);
    const std::string value =
        equals == std::string_view::npos ? "" : percent_decode(pair.substr(equals + 1), true);
    auto it = parameters.find(name);
    if (it == parameters.end()) {
      parameters[name] = value;
    } else {
      *it = it->get<std::string>() + "," + value;
    }
  }
  return parameters;
}

// The port a client reached: from Host, else HTTP's default.
std::string port_of(std::string_view host) {
  const size_t colon = host.rfind(':');
  if (colon == std::string_view::npos || host.find(']', colon) != std::string_view::npos) {
    return "80";
  }
  return std::string(host.substr(colon + 1));
}

// Hop-by-hop headers: they describe emberd's connection, not the request.
bool is_hop_by_hop(std::string_view name) {
  static const std::set<std::string, std::less<>> kHopByHop = {
      "connection", "keep-alive",        "proxy-connection", "te",
      "trailer",    "transfer-encoding", "upgrade"};
  return kHopByHop.contains(name);
}

HttpResponse bad_result(const char* why) {
  std::fprintf(stderr, "emberd: function URL: the function's result cannot be mapped: %s\n", why);
  return url_function_error_response();
}

// A header value the function gave: strings as they are, numbers and booleans as JSON.
bool header_text(const ordered_json& value, std::string& out) {
  if (value.is_string()) {
    out = value.get<std::string>();
  } else if (value.is_number() || value.is_boolean()) {
    out = value.dump();
  } else {
    return false;
  }
  return out.find_first_of("\r\n") == std::string::npos;
}

// A structured result: {"statusCode", "headers", "cookies", "body", "isBase64Encoded"}.
HttpResponse structured_response(const ordered_json& result) {
  HttpResponse response;
  const ordered_json& status = result["statusCode"];
  if (status.is_number_integer()) {
    response.status = status.get<int>();
  } else if (status.is_string() && !status.get<std::string>().empty() &&
             status.get<std::string>().size() <= 3 &&
             status.get<std::string>().find_first_not_of("0123456789") == std::string::npos) {
    response.status = std::stoi(status.get<std::string>());
  } else {
    return bad_result("statusCode is not a number");
  }
  if (response.status < 100 || response.status > 599) return bad_result("statusCode out of range");

  if (auto headers = result.find("headers"); headers != result.end() && !headers->is_null()) {
    if (!headers->is_object()) return bad_result("headers is not an object");
    for (const auto& [name, value] : headers->items()) {
      if (value.is_null() || is_hop_by_hop(lower(name)) ||
          equals_ignoring_case(name, "content-length")) {
        continue;
      }
      std::string text;
      if (!header_text(value, text)) return bad_result("a header value is not a string");
      response.set_header(name, text);
    }
  }
  if (auto cookies = result.find("cookies"); cookies != result.end() && !cookies->is_null()) {
    if (!cookies->is_array()) return bad_result("cookies is not an array");
    for (const auto& cookie : *cookies) {
      std::string text;
      if (!cookie.is_string() || !header_text(cookie, text)) {
        return bad_result("a cookie is not a string");
      }
      response.headers.emplace_back("Set-Cookie", std::move(text));  // one header each
    }
  }
  bool base64 = false;
  if (auto flag = result.find("isBase64Encoded"); flag != result.end()) {
    base64 = flag->is_boolean() ? flag->get<bool>()
                                : flag->is_string() && lower(flag->get<std::string>()) == "true";
  }
  if (auto body = result.find("body"); body != result.end() && !body->is_null()) {
    if (!body->is_string()) {
      response.body = body->dump();
    } else if (base64) {
      auto decoded = base64_decode(body->get<std::string>());
      if (!decoded) return bad_result("isBase64Encoded is true but body is not base64");
      response.body = std::move(*decoded);
    } else {
      response.body = body->get<std::string>();
    }
  }
  if (response.header("Content-Type").empty()) {
    response.set_header("Content-Type", "application/json");
  }
  return response;
}

// The Access-Control-Allow-Origin value for the request's Origin, "" when not allowed.
std::string allowed_origin(const CorsConfig& cors, const std::string& origin) {
  if (origin.empty()) return "";
  for (const std::string& allowed : cors.allow_origins) {
    if (allowed == "*") return cors.allow_credentials ? origin : "*";
    if (equals_ignoring_case(allowed, origin)) return origin;
  }
  return "";
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

void set_origin_headers(const CorsConfig& cors, const std::string& origin, HttpResponse& response) {
  response.set_header("Access-Control-Allow-Origin", origin);
  if (origin != "*") response.set_header("Vary", "Origin");
  if (cors.allow_credentials) response.set_header("Access-Control-Allow-Credentials", "true");
}

// A list member of Cors: strings of min..max characters, at most max_items of them.
ApiStatus read_list(const json& cors, const char* key, const char* field, size_t max_items,
                    size_t min_length, size_t max_length, std::vector<std::string>& out) {
  auto it = cors.find(key);
  if (it == cors.end() || it->is_null()) return {};
  if (!it->is_array() ||
      !std::all_of(it->begin(), it->end(), [](const json& item) { return item.is_string(); })) {
    return invalid_request_content(std::string("Could not parse request body into json: Cors.") +
                                   key + " must be a list of strings");
  }
  out = it->get<std::vector<std::string>>();
  if (out.size() > max_items) {
    return constraint_violation(
        field, "[" + joined(out) + "]",
        "Member must have length less than or equal to " + std::to_string(max_items));
  }
  for (const std::string& item : out) {
    if (item.size() < min_length || item.size() > max_length) {
      return constraint_violation(
          field, "[" + joined(out) + "]",
          "Member must satisfy constraint: [Member must have length " +
              (item.size() < min_length ? "greater than or equal to " + std::to_string(min_length)
                                        : "less than or equal to " + std::to_string(max_length)) +
              "]");
    }
  }
  return {};
}

}  // namespace

bool is_text_content_type(std::string_view content_type) {
  const std::string type = lower(trim(content_type.substr(0, content_type.find(';'))));
  if (type.starts_with("text/")) return true;
  static const std::set<std::string, std::less<>> kText = {"application/json",
                                                           "application/xml",
                                                           "application/javascript",
                                                           "application/ecmascript",
                                                           "application/x-www-form-urlencoded",
                                                           "application/graphql",
                                                           "application/yaml",
                                                           "application/x-yaml"};
  return kText.contains(type) || type.ends_with("+json") || type.ends_with("+xml");
}

std::string url_event_time(int64_t unix_ms) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%02d/%s/%04d:%02d:%02d:%02d +0000", utc.tm_mday,
                kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
  return text;
}

ordered_json url_event(const HttpRequest& request, const UrlEventContext& context) {
  const std::string host = request.header("host");
  ordered_json headers = ordered_json::object();
  ordered_json cookies = ordered_json::array();
  for (const auto& [name, value] : request.headers) {
    if (is_hop_by_hop(name)) continue;
    if (name != "cookie") {
      headers[name] = value;
      continue;
    }
    std::string_view rest = value;
    while (!rest.empty()) {
      const size_t semicolon = rest.find(';');
      const std::string_view cookie = trim(rest.substr(0, semicolon));
      if (!cookie.empty()) cookies.push_back(std::string(cookie));
      rest = semicolon == std::string_view::npos ? std::string_view() : rest.substr(semicolon + 1);
    }
  }
  // What Lambda's front end adds; emberd serves plain HTTP.
  if (!request.peer_address.empty()) {
    const std::string forwarded = request.header("x-forwarded-for");
    headers["x-forwarded-for"] =
        forwarded.empty() ? request.peer_address : forwarded + ", " + request.peer_address;
  }
  headers["x-forwarded-proto"] = "http";
  headers["x-forwarded-port"] = port_of(host);

  ordered_json event = {{"version", "2.0"},
                        {"routeKey", "$default"},
                        {"rawPath", context.raw_path},
                        {"rawQueryString", request.raw_query}};
  if (!cookies.empty()) event["cookies"] = std::move(cookies);
  event["headers"] = std::move(headers);
  ordered_json parameters = query_parameters(request.raw_query);
  if (!parameters.empty()) event["queryStringParameters"] = std::move(parameters);
  event["requestContext"] = {{"accountId", "anonymous"},
                             {"apiId", context.url_id},
                             {"domainName", host},
                             {"domainPrefix", context.url_id},
                             {"http",
                              {{"method", request.method},
                               {"path", context.raw_path},
                               {"protocol", "HTTP/1.1"},
                               {"sourceIp", request.peer_address},
                               {"userAgent", request.header("user-agent")}}},
                             {"requestId", context.request_id},
                             {"routeKey", "$default"},
                             {"stage", "$default"},
                             {"time", url_event_time(context.now_ms)},
                             {"timeEpoch", context.now_ms}};
  const bool text = is_text_content_type(request.header("content-type")) && is_utf8(request.body);
  if (!request.body.empty()) event["body"] = text ? request.body : base64_encode(request.body);
  event["isBase64Encoded"] = !request.body.empty() && !text;
  return event;
}

HttpResponse url_response(std::string_view payload) {
  const ordered_json result = ordered_json::parse(payload, nullptr, false);
  if (result.is_discarded()) return bad_result("it is not JSON");
  if (result.is_object() && result.contains("statusCode")) return structured_response(result);
  HttpResponse response;
  response.status = 200;
  response.set_header("Content-Type", "application/json");
  response.body = result.is_string() ? result.get<std::string>() : result.dump();
  return response;
}

HttpResponse url_function_error_response() {
  HttpResponse response;
  response.status = 502;
  response.set_header("Content-Type", "application/json");
  response.body = "Internal Server Error";
  return response;
}

HttpResponse url_throttled_response() {
  HttpResponse response;
  response.status = 429;
  response.set_header("Content-Type", "application/json");
  response.set_header("x-amzn-ErrorType", "TooManyRequestsException");
  response.body = R"({"Message":"Rate Exceeded."})";
  return response;
}

ApiResult<CorsConfig> read_cors(const json& cors) {
  if (!cors.is_object()) {
    return invalid_request_content(
        "Could not parse request body into json: Cors must be an object");
  }
  CorsConfig config;
  if (auto it = cors.find("AllowCredentials"); it != cors.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return invalid_request_content(
          "Could not parse request body into json: Cors.AllowCredentials must be a boolean");
    }
    config.allow_credentials = it->get<bool>();
  }
  EMBER_CHECK(
      read_list(cors, "AllowHeaders", "cors.allowHeaders", 100, 0, 1024, config.allow_headers));
  EMBER_CHECK(read_list(cors, "AllowMethods", "cors.allowMethods", 6, 0, 6, config.allow_methods));
  EMBER_CHECK(
      read_list(cors, "AllowOrigins", "cors.allowOrigins", 100, 1, 253, config.allow_origins));
  EMBER_CHECK(
      read_list(cors, "ExposeHeaders", "cors.exposeHeaders", 100, 0, 1024, config.expose_headers));
  static const std::set<std::string, std::less<>> kMethods = {"*",     "GET",    "POST", "PUT",
                                                              "PATCH", "DELETE", "HEAD", "OPTIONS"};
  for (const std::string& method : config.allow_methods) {
    if (!kMethods.contains(method)) {
      return invalid_parameter("Cors.AllowMethods has '" + method +
                               "', which is not an HTTP method: use GET, POST, PUT, PATCH, "
                               "DELETE, HEAD, OPTIONS or * for all, in upper case.");
    }
  }
  if (auto it = cors.find("MaxAge"); it != cors.end() && !it->is_null()) {
    if (!it->is_number_integer()) {
      return invalid_request_content(
          "Could not parse request body into json: Cors.MaxAge must be an integer");
    }
    config.max_age = it->get<int64_t>();
    if (config.max_age < 0 || config.max_age > 86400) {
      return constraint_violation("cors.maxAge", std::to_string(config.max_age),
                                  config.max_age < 0
                                      ? "Member must have value greater than or equal to 0"
                                      : "Member must have value less than or equal to 86400");
    }
  }
  return config;
}

json cors_json(const CorsConfig& cors) {
  return json{{"AllowCredentials", cors.allow_credentials}, {"AllowHeaders", cors.allow_headers},
              {"AllowMethods", cors.allow_methods},         {"AllowOrigins", cors.allow_origins},
              {"ExposeHeaders", cors.expose_headers},       {"MaxAge", cors.max_age}};
}

bool is_preflight(const HttpRequest& request) {
  return request.method == "OPTIONS" && !request.header("origin").empty() &&
         !request.header("access-control-request-method").empty();
}

HttpResponse preflight_response(const CorsConfig& cors, const HttpRequest& request) {
  HttpResponse response;
  response.status = 200;
  const std::string origin = allowed_origin(cors, request.header("origin"));
  if (origin.empty()) return response;
  set_origin_headers(cors, origin, response);
  if (!cors.allow_methods.empty()) {
    response.set_header("Access-Control-Allow-Methods", joined(cors.allow_methods));
  }
  if (!cors.allow_headers.empty()) {
    response.set_header("Access-Control-Allow-Headers", joined(cors.allow_headers));
  }
  if (cors.max_age > 0) response.set_header("Access-Control-Max-Age", std::to_string(cors.max_age));
  return response;
}

void add_cors_headers(const CorsConfig& cors, const std::string& origin, HttpResponse& response) {
  std::erase_if(response.headers, [](const auto& header) {
    return lower(header.first).starts_with("access-control-");
  });
  const std::string allowed = allowed_origin(cors, origin);
  if (allowed.empty()) return;
  set_origin_headers(cors, allowed, response);
  if (!cors.expose_headers.empty()) {
    response.set_header("Access-Control-Expose-Headers", joined(cors.expose_headers));
  }
}

}  // namespace ember::host
