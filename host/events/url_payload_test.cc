// Tests for payload format 2.0 both ways and function URL CORS.
#include "host/events/url_payload.h"

#include <gtest/gtest.h>

#include "host/store/encoding.h"

namespace ember::host {
namespace {

using nlohmann::json;

HttpRequest request_of(std::string method, std::string raw_query = "") {
  HttpRequest request;
  request.method = std::move(method);
  request.raw_query = std::move(raw_query);
  request.peer_address = "10.1.2.3";
  request.headers["host"] = "127.0.0.1:9000";
  request.headers["user-agent"] = "curl/8.5.0";
  return request;
}

UrlEventContext context_of(std::string raw_path) {
  // 2026-12-01T19:54:02.345Z
  return UrlEventContext{.url_id = "abcdefghijklmnopqrstuvwxyz012345",
                         .raw_path = std::move(raw_path),
                         .request_id = "11111111-2222-4333-8444-555555555555",
                         .now_ms = 1796154842345};
}

std::vector<std::string> values_of(const HttpResponse& response, const std::string& name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : response.headers) {
    if (key == name) values.push_back(value);
  }
  return values;
}

TEST(UrlEventTest, GetWithQueryCarriesLambdasFields) {
  HttpRequest request = request_of("GET", "name=Jane&tag=a&tag=b%2Fc&plus=x+y&flag");
  request.headers["accept"] = "text/html,application/json";  // repeats already joined
  request.headers["connection"] = "keep-alive";
  const json event = url_event(request, context_of("/my/pa%20th/"));

  EXPECT_EQ(event["version"], "2.0");
  EXPECT_EQ(event["routeKey"], "$default");
  EXPECT_EQ(event["rawPath"], "/my/pa%20th/");
  EXPECT_EQ(event["rawQueryString"], "name=Jane&tag=a&tag=b%2Fc&plus=x+y&flag");
  EXPECT_EQ(event["queryStringParameters"],
            (json{{"name", "Jane"}, {"tag", "a,b/c"}, {"plus", "x y"}, {"flag", ""}}));
  EXPECT_EQ(event["headers"]["accept"], "text/html,application/json");
  EXPECT_EQ(event["headers"]["x-forwarded-for"], "10.1.2.3");
  EXPECT_EQ(event["headers"]["x-forwarded-port"], "9000");
  EXPECT_FALSE(event["headers"].contains("connection"));
  EXPECT_FALSE(event.contains("cookies"));
  EXPECT_FALSE(event.contains("body"));
  EXPECT_EQ(event["isBase64Encoded"], false);

  const json& context = event["requestContext"];
  EXPECT_EQ(context["accountId"], "anonymous");
  EXPECT_EQ(context["apiId"], "abcdefghijklmnopqrstuvwxyz012345");
  EXPECT_EQ(context["domainName"], "127.0.0.1:9000");
  EXPECT_EQ(context["domainPrefix"], "abcdefghijklmnopqrstuvwxyz012345");
  EXPECT_EQ(context["http"], (json{{"method", "GET"},
                                   {"path", "/my/pa%20th/"},
                                   {"protocol", "HTTP/1.1"},
                                   {"sourceIp", "10.1.2.3"},
                                   {"userAgent", "curl/8.5.0"}}));
  EXPECT_EQ(context["requestId"], "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(context["routeKey"], "$default");
  EXPECT_EQ(context["stage"], "$default");
  EXPECT_EQ(context["time"], "01/Dec/2026:19:54:02 +0000");
  EXPECT_EQ(context["timeEpoch"], 1796154842345);
}

TEST(UrlEventTest, NoQueryLeavesParametersOut) {
  const json event = url_event(request_of("GET"), context_of("/"));
  EXPECT_EQ(event["rawQueryString"], "");
  EXPECT_FALSE(event.contains("queryStringParameters"));
}

TEST(UrlEventTest, CookiesAreSplitTrimmedAndLeftOutOfHeaders) {
  HttpRequest request = request_of("GET");
  request.headers["cookie"] = "session=abc; theme=dark ;;  lang=en";
  const json event = url_event(request, context_of("/"));
  EXPECT_EQ(event["cookies"], (json{"session=abc", "theme=dark", "lang=en"}));
  EXPECT_FALSE(event["headers"].contains("cookie"));
}

TEST(UrlEventTest, BinaryBodyIsBase64) {
  HttpRequest request = request_of("POST");
  request.headers["content-type"] = "application/octet-stream";
  request.body = std::string("\x00\x01\xff\xfe png", 8);
  const json event = url_event(request, context_of("/upload"));
  EXPECT_EQ(event["isBase64Encoded"], true);
  EXPECT_EQ(base64_decode(event["body"].get<std::string>()), request.body);
}

TEST(UrlEventTest, TextBodiesStayText) {
  for (const char* type : {"application/json", "text/plain; charset=utf-8", "application/xml",
                           "application/x-www-form-urlencoded", "application/vnd.api+json"}) {
    HttpRequest request = request_of("POST");
    request.headers["content-type"] = type;
    request.body = "{\"greeting\": \"h\xc3\xa9llo\"}";
    const json event = url_event(request, context_of("/"));
    EXPECT_EQ(event["isBase64Encoded"], false) << type;
    EXPECT_EQ(event["body"], request.body) << type;
  }
}

TEST(UrlEventTest, TextTypeWithBytesThatAreNotUtf8IsBase64) {
  HttpRequest request = request_of("POST");
  request.headers["content-type"] = "text/plain";
  request.body = "caf\xe9";  // Latin-1
  const json event = url_event(request, context_of("/"));
  EXPECT_EQ(event["isBase64Encoded"], true);
  EXPECT_EQ(event["body"], base64_encode(request.body));
}

TEST(UrlEventTest, NoContentTypeIsBinary) {
  HttpRequest request = request_of("POST");
  request.body = "plain words";
  EXPECT_EQ(url_event(request, context_of("/"))["isBase64Encoded"], true);
  EXPECT_FALSE(is_text_content_type("multipart/form-data; boundary=x"));
  EXPECT_TRUE(is_text_content_type("Text/HTML"));
}

TEST(UrlResponseTest, StatusHeadersCookiesAndBody) {
  const HttpResponse response = url_response(R"({
      "statusCode": 201,
      "headers": {"Content-Type": "text/plain", "My-Custom-Header": "Custom Value", "X-N": 3},
      "cookies": ["a=1; Expires=Wed, 21 Oct 2026 07:48:00 GMT", "b=2; Max-Age=78000"],
      "body": "created",
      "isBase64Encoded": false})");
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.header("Content-Type"), "text/plain");
  EXPECT_EQ(response.header("My-Custom-Header"), "Custom Value");
  EXPECT_EQ(response.header("X-N"), "3");
  EXPECT_EQ(values_of(response, "Set-Cookie"),
            (std::vector<std::string>{"a=1; Expires=Wed, 21 Oct 2026 07:48:00 GMT",
                                      "b=2; Max-Age=78000"}));
  EXPECT_EQ(response.body, "created");
}

TEST(UrlResponseTest, Base64BodyIsDecodedAndContentTypeDefaultsToJson) {
  const std::string bytes("\x89PNG\r\n\x1a\n\x00", 9);
  const HttpResponse response = url_response(json{
      {"statusCode", "418"},
      {"body", base64_encode(bytes)},
      {"isBase64Encoded", true}}.dump());
  EXPECT_EQ(response.status, 418);
  EXPECT_EQ(response.body, bytes);
  EXPECT_EQ(response.header("Content-Type"), "application/json");
}

TEST(UrlResponseTest, ResultWithoutStatusCodeIsTheBody) {
  const HttpResponse object = url_response(R"({"message": "Hello, world!", "body": "x"})");
  EXPECT_EQ(object.status, 200);
  EXPECT_EQ(object.header("Content-Type"), "application/json");
  EXPECT_EQ(object.body, R"({"message":"Hello, world!","body":"x"})");  // compact, in order
  EXPECT_EQ(url_response(R"(["hello", 3, true])").body, R"(["hello",3,true])");
  EXPECT_EQ(url_response("3.1").body, "3.1");
  EXPECT_EQ(url_response("true").body, "true");
  // A string is its text, as Lambda answers (not JSON-quoted).
  const HttpResponse text = url_response(R"("hello")");
  EXPECT_EQ(text.status, 200);
  EXPECT_EQ(text.body, "hello");
}

TEST(UrlResponseTest, UnmappableResultsAre502) {
  for (const char* payload : {"not json", R"({"statusCode": 99})", R"({"statusCode": "abc"})",
                              R"({"statusCode": 200, "headers": []})",
                              R"({"statusCode": 200, "body": "%%%", "isBase64Encoded": true})"}) {
    const HttpResponse response = url_response(payload);
    EXPECT_EQ(response.status, 502) << payload;
    EXPECT_EQ(response.body, "Internal Server Error") << payload;
  }
}

TEST(UrlResponseTest, ErrorAndThrottleAnswers) {
  EXPECT_EQ(url_function_error_response().status, 502);
  const HttpResponse throttled = url_throttled_response();
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(json::parse(throttled.body), (json{{"Message", "Rate Exceeded."}}));
}

CorsConfig example_cors() {
  auto cors = read_cors(json{{"AllowOrigins", {"https://app.example.com"}},
                             {"AllowMethods", {"GET", "POST"}},
                             {"AllowHeaders", {"content-type", "x-custom"}},
                             {"ExposeHeaders", {"x-request-id"}},
                             {"MaxAge", 300},
                             {"AllowCredentials", true}});
  EXPECT_TRUE(cors.ok());
  return cors.ok() ? cors.value() : CorsConfig{};
}

TEST(CorsTest, PreflightIsAnsweredFromTheConfig) {
  HttpRequest request = request_of("OPTIONS");
  request.headers["origin"] = "https://app.example.com";
  request.headers["access-control-request-method"] = "POST";
  ASSERT_TRUE(is_preflight(request));
  const HttpResponse response = preflight_response(example_cors(), request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(response.header("Access-Control-Allow-Methods"), "GET,POST");
  EXPECT_EQ(response.header("Access-Control-Allow-Headers"), "content-type,x-custom");
  EXPECT_EQ(response.header("Access-Control-Max-Age"), "300");
  EXPECT_EQ(response.header("Access-Control-Allow-Credentials"), "true");

  request.headers["origin"] = "https://evil.example.com";
  const HttpResponse refused = preflight_response(example_cors(), request);
  EXPECT_EQ(refused.header("Access-Control-Allow-Origin"), "");
  EXPECT_FALSE(is_preflight(request_of("OPTIONS")));
}

TEST(CorsTest, ResponsesGetOriginHeadersAndLoseTheFunctionsOwn) {
  HttpRequest request = request_of("GET");
  request.headers["origin"] = "https://app.example.com";
  HttpResponse response;
  response.set_header("Access-Control-Allow-Origin", "*");
  add_cors_headers(example_cors(), request.header("origin"), response);
  EXPECT_EQ(response.header("Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(response.header("Access-Control-Expose-Headers"), "x-request-id");
  EXPECT_EQ(response.header("Access-Control-Allow-Credentials"), "true");

  auto star = read_cors(json{{"AllowOrigins", {"*"}}});
  ASSERT_TRUE(star.ok());
  HttpResponse any;
  add_cors_headers(star.value(), request.header("origin"), any);
  EXPECT_EQ(any.header("Access-Control-Allow-Origin"), "*");
}

TEST(CorsTest, ValidationFollowsLambdasModel) {
  EXPECT_EQ(read_cors(json{{"AllowMethods",
                            {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}}})
                .error()
                .type,
            "ValidationException");
  EXPECT_EQ(read_cors(json{{"AllowMethods", {"FETCH"}}}).error().type,
            "InvalidParameterValueException");
  EXPECT_EQ(read_cors(json{{"AllowOrigins", {""}}}).error().type, "ValidationException");
  const ApiError max_age = read_cors(json{{"MaxAge", 86401}}).error();
  EXPECT_EQ(max_age.type, "ValidationException");
  EXPECT_NE(max_age.message.find("cors.maxAge"), std::string::npos) << max_age.message;
  EXPECT_EQ(read_cors(json{{"AllowOrigins", "*"}}).error().type, "InvalidRequestContentException");
  EXPECT_EQ(cors_json(example_cors())["MaxAge"], 300);
  EXPECT_EQ(read_cors(cors_json(example_cors())).value(), example_cors());  // round trip
}

}  // namespace
}  // namespace ember::host
