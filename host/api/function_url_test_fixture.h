// FunctionUrlApiTest: an ApiTest with function URLs' stores and routes, and requests to URLs
// as the HTTP server hands them over.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "host/api/api_test_fixture.h"
#include "host/api/function_url_api.h"
#include "host/api/http_message.h"
#include "host/api/later_response.h"

namespace ember::host {

inline constexpr char kBase[] = "http://127.0.0.1:9000";

class FunctionUrlApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    auto urls = FunctionUrlStore::open(dir_ + "/functions.db");
    ASSERT_TRUE(urls.ok()) << urls.error().message();
    urls_.emplace(std::move(urls).value());
    runner_.emplace(*functions_, *code_, *logs_, invoker_, "us-east-1");
    url_api_.emplace(*functions_, *urls_, *runner_, kBase);
    url_api_->add_routes(api_->router());
    api_->on_function_deleted(
        [this](const std::string& name) { url_api_->function_deleted(name); });
  }
  void TearDown() override {
    url_api_.reset();
    runner_.reset();
    urls_.reset();
    ApiTest::TearDown();
  }

  HttpResponse create_url(const std::string& name,
                          const nlohmann::json& body = {{"AuthType", "NONE"}},
                          const std::string& query = "") {
    return call("POST", "/2021-10-31/functions/" + name + "/url" + query, body.dump());
  }
  // Creates hello with a URL; the URL's path on emberd, "/lambda-url/<id>/".
  std::string url_path_ok(const nlohmann::json& body = {{"AuthType", "NONE"}}) {
    create_ok("hello");
    const HttpResponse created = create_url("hello", body);
    EXPECT_EQ(created.status, 201) << created.body;
    const std::string url = json_of(created)["FunctionUrl"].get<std::string>();
    return url.substr(std::string(kBase).size());
  }
  // A request to a URL as the HTTP server would hand it over (raw query and peer too), and
  // its answer.
  static HttpRequest url_request(const std::string& method, const std::string& target,
                                 const std::string& body = "",
                                 const std::map<std::string, std::string>& headers = {}) {
    HttpRequest request;
    request.method = method;
    split_target(target, request.path, request.query);
    if (const size_t mark = target.find('?'); mark != std::string::npos) {
      request.raw_query = target.substr(mark + 1);
    }
    request.peer_address = "127.0.0.1";
    request.headers["host"] = "127.0.0.1:9000";
    for (const auto& [name, value] : headers) request.headers[name] = value;
    request.body = body;
    return request;
  }
  HttpResponse fetch(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {}) {
    return settled(api_->handle(url_request(method, target, body, headers)));
  }

  // A URL config allowing POSTs from https://app.example, and a browser's CORS preflight for
  // such a POST.
  static nlohmann::json app_cors(const std::string& auth_type) {
    return {{"AuthType", auth_type},
            {"Cors", {{"AllowOrigins", {"https://app.example"}}, {"AllowMethods", {"POST"}}}}};
  }
  HttpResponse preflight(const std::string& path) {
    return fetch("OPTIONS", path, "",
                 {{"origin", "https://app.example"}, {"access-control-request-method", "POST"}});
  }

  std::optional<FunctionUrlStore> urls_;
  std::optional<InvocationRunner> runner_;
  std::optional<FunctionUrlApi> url_api_;
};

}  // namespace ember::host
