// Tests for the function URL config routes, serving URLs, and FunctionUrlStore (AWS_IAM
// URLs' signatures: function_url_auth_test.cc).
#include "host/api/function_url_api.h"

#include <gtest/gtest.h>

#include <regex>

#include "host/api/function_url_test_fixture.h"

namespace ember::host {
namespace {

using nlohmann::json;

TEST_F(FunctionUrlApiTest, CreateAnswers201WithTheUrl) {
  create_ok("hello");
  const HttpResponse created = create_url("hello");
  ASSERT_EQ(created.status, 201) << created.body;
  const json body = json_of(created);
  EXPECT_TRUE(std::regex_match(body["FunctionUrl"].get<std::string>(),
                               std::regex(R"(http://127\.0\.0\.1:9000/lambda-url/[a-z0-9]{32}/)")))
      << body;
  EXPECT_EQ(body["FunctionArn"], "arn:aws:lambda:us-east-1:000000000000:function:hello");
  EXPECT_EQ(body["AuthType"], "NONE");
  EXPECT_TRUE(std::regex_match(body["CreationTime"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
  EXPECT_FALSE(body.contains("InvokeMode"));  // as Lambda: only when the request had it
  EXPECT_FALSE(body.contains("Cors"));

  const HttpResponse again = create_url("hello");
  EXPECT_EQ(error_of(again), "409 ResourceConflictException");
  EXPECT_NE(json_of(again)["Message"].get<std::string>().find("FunctionUrlConfig exists"),
            std::string::npos);
}

TEST_F(FunctionUrlApiTest, CreateChecksItsInput) {
  const HttpResponse missing = create_url("nobody");
  EXPECT_EQ(error_of(missing), "404 ResourceNotFoundException");
  EXPECT_EQ(json_of(missing)["Message"],
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nobody");
  create_ok("hello");
  EXPECT_EQ(error_of(create_url("hello", json::object())), "400 ValidationException");
  EXPECT_EQ(error_of(create_url("hello", {{"AuthType", "OPEN"}})), "400 ValidationException");
  EXPECT_EQ(
      error_of(create_url("hello", {{"AuthType", "NONE"}, {"InvokeMode", "RESPONSE_STREAM"}})),
      "400 InvalidParameterValueException");
  const HttpResponse mode = create_url("hello", {{"AuthType", "NONE"}, {"InvokeMode", "UNKNOWN"}});
  EXPECT_EQ(json_of(mode)["Message"],
            "1 validation error detected: Value 'UNKNOWN' at 'invokeMode' failed to satisfy "
            "constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]");
  EXPECT_EQ(error_of(create_url("hello", {{"AuthType", "NONE"}, {"Cors", {{"MaxAge", -1}}}})),
            "400 ValidationException");
  EXPECT_EQ(error_of(call("POST", "/2021-10-31/functions/hello/url", "[1]")),
            "400 InvalidRequestContentException");
  // Qualifiers: Lambda's alias pattern refuses versions and $LATEST; aliases do not exist.
  EXPECT_EQ(error_of(create_url("hello", {{"AuthType", "NONE"}}, "?Qualifier=$LATEST")),
            "400 ValidationException");
  EXPECT_EQ(error_of(create_url("hello", {{"AuthType", "NONE"}}, "?Qualifier=1")),
            "400 ValidationException");
  EXPECT_EQ(error_of(create_url("hello", {{"AuthType", "NONE"}}, "?Qualifier=prod")),
            "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("GET", "/2021-10-31/functions/hello/url")),
            "404 ResourceNotFoundException");  // nothing was created
}

TEST_F(FunctionUrlApiTest, GetUpdateListDelete) {
  const std::string path = url_path_ok(
      {{"AuthType", "NONE"}, {"InvokeMode", "BUFFERED"}, {"Cors", {{"AllowOrigins", {"*"}}}}});
  const HttpResponse got = call("GET", "/2021-10-31/functions/hello/url");
  ASSERT_EQ(got.status, 200) << got.body;
  const json config = json_of(got);
  EXPECT_EQ(config["FunctionUrl"], kBase + path);
  EXPECT_EQ(config["InvokeMode"], "BUFFERED");
  EXPECT_EQ(config["Cors"]["AllowOrigins"], json{"*"});
  EXPECT_EQ(config["Cors"]["AllowCredentials"], false);
  EXPECT_EQ(config["LastModifiedTime"].get<std::string>().size(), 27u);

  const HttpResponse updated =
      call("PUT", "/2021-10-31/functions/hello/url",
           json{{"Cors", {{"AllowOrigins", {"https://a.example"}}, {"MaxAge", 60}}}}.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(json_of(updated)["FunctionUrl"], config["FunctionUrl"]);
  EXPECT_EQ(json_of(updated)["Cors"]["MaxAge"], 60);
  EXPECT_EQ(json_of(updated)["AuthType"], "NONE");
  EXPECT_EQ(json_of(updated)["CreationTime"], config["CreationTime"]);
  EXPECT_EQ(error_of(call("PUT", "/2021-10-31/functions/hello/url", R"({"AuthType":"IAM"})")),
            "400 ValidationException");
  EXPECT_EQ(json_of(call("GET", "/2021-10-31/functions/hello/url"))["Cors"]["AllowOrigins"],
            json{"https://a.example"});

  const HttpResponse listed = call("GET", "/2021-10-31/functions/hello/urls?MaxItems=50");
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(json_of(listed)["FunctionUrlConfigs"].size(), 1u);
  EXPECT_EQ(json_of(listed)["FunctionUrlConfigs"][0]["FunctionUrl"], config["FunctionUrl"]);
  EXPECT_FALSE(json_of(listed).contains("NextMarker"));
  EXPECT_EQ(json_of(call("GET", "/2021-10-31/functions/hello/urls?Marker=x"))["FunctionUrlConfigs"]
                .size(),
            0u);
  EXPECT_EQ(error_of(call("GET", "/2021-10-31/functions/hello/urls?MaxItems=0")),
            "400 ValidationException");
  EXPECT_EQ(error_of(call("GET", "/2021-10-31/functions/hello/urls?MaxItems=51")),
            "400 ValidationException");
  EXPECT_EQ(error_of(call("GET", "/2021-10-31/functions/nobody/urls")),
            "404 ResourceNotFoundException");

  EXPECT_EQ(call("DELETE", "/2021-10-31/functions/hello/url").status, 204);
  const HttpResponse gone = call("GET", "/2021-10-31/functions/hello/url");
  EXPECT_EQ(error_of(gone), "404 ResourceNotFoundException");
  EXPECT_EQ(json_of(gone)["Message"], "The resource you requested does not exist.");
  EXPECT_EQ(error_of(call("DELETE", "/2021-10-31/functions/hello/url")),
            "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("PUT", "/2021-10-31/functions/hello/url", "{}")),
            "404 ResourceNotFoundException");
  EXPECT_TRUE(
      json_of(call("GET", "/2021-10-31/functions/hello/urls"))["FunctionUrlConfigs"].empty());
  EXPECT_EQ(fetch("GET", path).status, 403);  // the old URL answers no more
}

TEST_F(FunctionUrlApiTest, DeletingTheFunctionDeletesItsUrl) {
  const std::string path = url_path_ok();
  ASSERT_EQ(call("DELETE", "/2015-03-31/functions/hello").status, 204);
  create_ok("hello");
  EXPECT_EQ(error_of(call("GET", "/2021-10-31/functions/hello/url")),
            "404 ResourceNotFoundException");
  EXPECT_EQ(fetch("GET", path).status, 403);
  EXPECT_EQ(create_url("hello").status, 201);
}

TEST_F(FunctionUrlApiTest, GetThroughTheUrlRunsTheFunction) {
  const std::string path = url_path_ok();
  const HttpResponse response = fetch("GET", path + "items/7?tag=a&tag=b", "",
                                      {{"cookie", "s=1; t=2"}, {"user-agent", "curl/8"}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.header("Content-Type"), "application/json");
  // FakeInvoker echoes its payload: the body is the event the function got.
  const json event = json_of(response);
  EXPECT_EQ(event["rawPath"], "/items/7");
  EXPECT_EQ(event["rawQueryString"], "tag=a&tag=b");
  EXPECT_EQ(event["queryStringParameters"]["tag"], "a,b");
  EXPECT_EQ(event["cookies"], (json{"s=1", "t=2"}));
  EXPECT_EQ(event["requestContext"]["http"]["method"], "GET");
  EXPECT_EQ(event["requestContext"]["http"]["userAgent"], "curl/8");
  EXPECT_EQ(event["requestContext"]["apiId"], path.substr(12, 32));
  EXPECT_EQ(response.header("x-amzn-RequestId"), event["requestContext"]["requestId"]);
  const auto seen = invoker_.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].fn.name, "hello");
  EXPECT_EQ(seen[0].request_id, response.header("x-amzn-RequestId"));

  EXPECT_EQ(json_of(fetch("GET", path.substr(0, path.size() - 1)))["rawPath"], "/");  // no '/'
  EXPECT_EQ(json_of(fetch("GET", path + "dir/"))["rawPath"], "/dir/");
  EXPECT_TRUE(fetch("HEAD", path).body.empty());
}

TEST_F(FunctionUrlApiTest, PostThroughTheUrlCarriesTheBody) {
  const std::string path = url_path_ok();
  const json text =
      json_of(fetch("POST", path, R"({"example":"test"})", {{"content-type", "application/json"}}));
  EXPECT_EQ(text["body"], R"({"example":"test"})");
  EXPECT_EQ(text["isBase64Encoded"], false);
  const std::string bytes("\x00\xffraw", 5);
  const json binary = json_of(
      fetch("POST", path + "upload", bytes, {{"content-type", "application/octet-stream"}}));
  EXPECT_EQ(binary["isBase64Encoded"], true);
  EXPECT_EQ(base64_decode(binary["body"].get<std::string>()), bytes);
}

TEST_F(FunctionUrlApiTest, FailuresAnswerAsLambdasUrlsDo) {
  const std::string path = url_path_ok();
  invoker_.time_out = true;  // a function error
  const HttpResponse failed = fetch("GET", path);
  EXPECT_EQ(failed.status, 502);
  EXPECT_EQ(failed.body, "Internal Server Error");
  invoker_.time_out = false;
  invoker_.throttle = true;
  const HttpResponse throttled = fetch("GET", path);
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(json_of(throttled)["Message"], "Rate Exceeded.");
  invoker_.throttle = false;
  invoker_.fail_with_service_error = true;
  const HttpResponse broken = fetch("GET", path);
  EXPECT_EQ(broken.status, 500);
  EXPECT_EQ(broken.header("x-amzn-ErrorType"), "ServiceException");

  const HttpResponse unknown = fetch("GET", "/lambda-url/00000000000000000000000000000000/");
  EXPECT_EQ(unknown.status, 403);
  EXPECT_EQ(unknown.header("x-amzn-ErrorType"), "AccessDeniedException");
  EXPECT_TRUE(json_of(unknown)["Message"].is_string());
}

TEST_F(FunctionUrlApiTest, CorsPreflightSkipsTheFunction) {
  const std::string path = url_path_ok(app_cors("NONE"));
  const HttpResponse preflighted = preflight(path);
  EXPECT_EQ(preflighted.status, 200);
  EXPECT_EQ(preflighted.header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(preflighted.header("Access-Control-Allow-Methods"), "POST");
  EXPECT_TRUE(invoker_.seen().empty());

  const HttpResponse post =
      fetch("POST", path, "{}",
            {{"origin", "https://app.example"}, {"content-type", "application/json"}});
  EXPECT_EQ(post.status, 200);
  EXPECT_EQ(post.header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(invoker_.seen().size(), 1u);
}

TEST(FunctionUrlBaseTest, FromListenerDescriptions) {
  EXPECT_EQ(function_url_base("tcp:127.0.0.1:9000"), "http://127.0.0.1:9000");
  EXPECT_EQ(function_url_base("tcp:[::1]:9000"), "http://[::1]:9000");
  EXPECT_EQ(function_url_base("tcp:0.0.0.0:8080"), "http://localhost:8080");
  EXPECT_EQ(function_url_base("tcp:[::]:8080"), "http://localhost:8080");
  EXPECT_EQ(function_url_base("unix:/run/ember/ember.sock"), "http://localhost");
}

class FunctionUrlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-url-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FunctionUrlStoreTest, CreateFindUpdateRemoveAndReopen) {
  auto opened = FunctionUrlStore::open(dir_ + "/functions.db");
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  FunctionUrlStore store = std::move(opened).value();
  auto created = store.create({.function_name = "f", .auth_type = "NONE", .creation_ms = 5});
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_TRUE(std::regex_match(created->url_id, std::regex("[a-z0-9]{32}")));
  EXPECT_EQ(store.create({.function_name = "f", .auth_type = "NONE"}).error().code, EEXIST);
  auto other = store.create({.function_name = "g", .auth_type = "NONE"});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->url_id, created->url_id);
  EXPECT_EQ(store.find_by_url_id(created->url_id).value(), created.value());

  FunctionUrlConfig changed = created.value();
  changed.cors = R"({"AllowOrigins":["*"]})";
  changed.last_modified_ms = 9;
  ASSERT_TRUE(store.update(changed).ok());
  EXPECT_EQ(store.update({.function_name = "nobody"}).error().code, ENOENT);
  ASSERT_TRUE(store.remove("g").ok());
  EXPECT_EQ(store.remove("g").error().code, ENOENT);
  EXPECT_EQ(store.get("g").error().code, ENOENT);

  auto reopened = FunctionUrlStore::open(dir_ + "/functions.db");
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->get("f").value(), changed);
}

}  // namespace
}  // namespace ember::host
