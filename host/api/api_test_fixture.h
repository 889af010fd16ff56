// ApiTest: a LambdaApi on a temporary state directory with a FakeInvoker, for route tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "host/api/fake_invoker.h"
#include "host/api/lambda_api.h"
#include "host/api/later_response.h"
#include "host/store/encoding.h"
#include "host/store/test_zip.h"

namespace ember::host {

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-api-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    open_state();
  }
  void TearDown() override {
    close_state();
    std::filesystem::remove_all(dir_);
  }

  // Opens the stores and the API on dir_ (again after close_state(): a restart).
  void open_state() {
    auto functions = FunctionStore::open(dir_ + "/functions.db");
    ASSERT_TRUE(functions.ok()) << functions.error().message();
    functions_.emplace(std::move(functions).value());
    auto code = CodeStore::open(dir_ + "/code");
    ASSERT_TRUE(code.ok()) << code.error().message();
    code_.emplace(std::move(code).value());
    logs_.emplace(dir_ + "/logs");
    auto events = EventQueue::open(dir_ + "/events.db");
    ASSERT_TRUE(events.ok()) << events.error().message();
    events_ = std::move(events).value();
    api_ = std::make_unique<LambdaApi>(*functions_, *code_, *logs_, invoker_, options_);
    api_->accept_events(*events_);
  }
  void close_state() {
    api_.reset();
    events_.reset();
    logs_.reset();
    code_.reset();
    functions_.reset();
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::map<std::string, std::string>& headers = {}) {
    HttpRequest request;
    request.method = method;
    split_target(target, request.path, request.query);
    for (const auto& [name, value] : headers) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[lower] = value;
    }
    request.body = body;
    return settled(api_->handle(request));
  }

  static nlohmann::json json_of(const HttpResponse& response) {
    return nlohmann::json::parse(response.body, nullptr, false);
  }

  static nlohmann::json create_body(const std::string& name, const std::string& zip = hello_zip()) {
    return {{"FunctionName", name},
            {"Runtime", "python3.11"},
            {"Role", "arn:aws:iam::123456789012:role/lambda-role"},
            {"Handler", "lambda_function.lambda_handler"},
            {"Code", {{"ZipFile", base64_encode(zip)}}}};
  }

  HttpResponse create(const nlohmann::json& body) {
    return call("POST", "/2015-03-31/functions", body.dump());
  }
  // Creates a function and checks that it worked; its configuration.
  nlohmann::json create_ok(const std::string& name, const std::string& zip = hello_zip()) {
    const HttpResponse response = create(create_body(name, zip));
    EXPECT_EQ(response.status, 201) << response.body;
    return json_of(response);
  }

  // "<status> <x-amzn-ErrorType>" of an error response.
  static std::string error_of(const HttpResponse& response) {
    return std::to_string(response.status) + " " + response.header("x-amzn-ErrorType");
  }

  std::string dir_;
  LambdaApiOptions options_;
  FakeInvoker invoker_;
  std::optional<FunctionStore> functions_;
  std::optional<CodeStore> code_;
  std::optional<FunctionLogs> logs_;
  std::unique_ptr<EventQueue> events_;
  std::unique_ptr<LambdaApi> api_;
};

}  // namespace ember::host
