// Tests for the function routes: create, get, list, update, delete, errors, and a restart.
#include <filesystem>
#include <regex>

#include "host/api/api_test_fixture.h"
#include "host/store/sha256.h"

namespace ember::host {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

TEST_F(ApiTest, CreateAnswersTheFullConfiguration) {
  const std::string zip = hello_zip();
  const HttpResponse response = create(create_body("hello", zip));
  ASSERT_EQ(response.status, 201) << response.body;
  EXPECT_EQ(response.header("Content-Type"), "application/json");
  EXPECT_FALSE(response.header("x-amzn-RequestId").empty());
  const json c = json_of(response);
  EXPECT_EQ(c["FunctionName"], "hello");
  EXPECT_EQ(c["FunctionArn"], "arn:aws:lambda:us-east-1:000000000000:function:hello");
  EXPECT_EQ(c["Runtime"], "python3.11");
  EXPECT_EQ(c["Role"], "arn:aws:iam::123456789012:role/lambda-role");
  EXPECT_EQ(c["Handler"], "lambda_function.lambda_handler");
  EXPECT_EQ(c["CodeSize"], zip.size());
  EXPECT_EQ(c["CodeSha256"], base64_encode(sha256(zip)));
  EXPECT_EQ(c["Description"], "");
  EXPECT_EQ(c["Timeout"], 3);
  EXPECT_EQ(c["MemorySize"], 128);
  EXPECT_EQ(c["EphemeralStorage"]["Size"], 512);
  EXPECT_EQ(c["Version"], "$LATEST");
  EXPECT_EQ(c["State"], "Active");
  EXPECT_EQ(c["LastUpdateStatus"], "Successful");
  EXPECT_EQ(c["PackageType"], "Zip");
  EXPECT_EQ(c["Architectures"], json::array({"x86_64"}));
  EXPECT_EQ(c["TracingConfig"]["Mode"], "PassThrough");
  EXPECT_EQ(c["Environment"]["Variables"], json::object());
  EXPECT_TRUE(std::regex_match(c["LastModified"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000)")));
  EXPECT_TRUE(std::regex_match(c["RevisionId"].get<std::string>(),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                          "[0-9a-f]{12}")));
  // The package and its image are in the code store.
  const std::string hex = hex_encode(sha256(zip));
  EXPECT_TRUE(fs::exists(dir_ + "/code/" + hex + ".zip"));
  EXPECT_TRUE(fs::exists(dir_ + "/code/" + hex + ".erofs"));
}

TEST_F(ApiTest, CreateStoresEveryGivenSetting) {
  json body = create_body("custom");
  body["Runtime"] = "nodejs18.x";
  body["Handler"] = "index.handler";
  body["MemorySize"] = 1024;
  body["Timeout"] = 60;
  body["EphemeralStorage"] = {{"Size", 2048}};
  body["Environment"] = {{"Variables", {{"GREETING", "hi"}}}};
  body["Description"] = "custom function";
  body["TracingConfig"] = {{"Mode", "Active"}};
  body["Publish"] = true;
  body["Architectures"] = json::array({"x86_64"});
  ASSERT_EQ(create(body).status, 201);
  const json c = json_of(call("GET", "/2015-03-31/functions/custom/configuration"));
  EXPECT_EQ(c["Runtime"], "nodejs18.x");
  EXPECT_EQ(c["Handler"], "index.handler");
  EXPECT_EQ(c["MemorySize"], 1024);
  EXPECT_EQ(c["Timeout"], 60);
  EXPECT_EQ(c["EphemeralStorage"]["Size"], 2048);
  EXPECT_EQ(c["Environment"]["Variables"]["GREETING"], "hi");
  EXPECT_EQ(c["Description"], "custom function");
  EXPECT_EQ(c["TracingConfig"]["Mode"], "Active");
}

TEST_F(ApiTest, CreatingAnExistingFunctionIsAConflict) {
  create_ok("twice");
  const HttpResponse again = create(create_body("twice", hello_zip("other")));
  EXPECT_EQ(error_of(again), "409 ResourceConflictException");
  const json body = json_of(again);
  EXPECT_EQ(body["Type"], "User");
  EXPECT_EQ(body["Message"], "Function already exist: twice");
  EXPECT_EQ(body["message"], "Function already exist: twice");
  // The refused package was not kept.
  EXPECT_FALSE(fs::exists(dir_ + "/code/" + hex_encode(sha256(hello_zip("other"))) + ".zip"));
}

TEST_F(ApiTest, CreateValidatesLikeLambda) {
  auto create_with = [this](auto change) {
    json body = create_body("checked");
    change(body);
    return error_of(create(body));
  };
  EXPECT_EQ(create_with([](json& b) { b["Runtime"] = "python2.7"; }),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_with([](json& b) { b["MemorySize"] = 127; }), "400 ValidationException");
  EXPECT_EQ(create_with([](json& b) { b["MemorySize"] = 10241; }), "400 ValidationException");
  EXPECT_EQ(create_with([](json& b) { b["Timeout"] = 0; }), "400 ValidationException");
  EXPECT_EQ(create_with([](json& b) { b["Timeout"] = 901; }), "400 ValidationException");
  EXPECT_EQ(create_with([](json& b) {
              b["EphemeralStorage"] = {{"Size", 511}};
            }),
            "400 ValidationException");
  EXPECT_EQ(create_with([](json& b) {
              b["EphemeralStorage"] = {{"Size", 10241}};
            }),
            "400 ValidationException");
  EXPECT_EQ(create_with([](json& b) { b["Handler"] = "bad handler"; }), "400 ValidationException");
  EXPECT_EQ(create_with([](json& b) { b["FunctionName"] = std::string(65, 'n'); }),
            "400 ValidationException");
  EXPECT_EQ(create_with([](json& b) { b["FunctionName"] = "bad name!"; }),
            "400 ValidationException");
  EXPECT_EQ(create_with([](json& b) {
              b["Environment"] = {{"Variables", {{"BIG", std::string(5000, 'x')}}}};
            }),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_with([](json& b) {
              b["Environment"] = {{"Variables", {{"AWS_REGION", "x"}}}};
            }),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_with([](json& b) { b.erase("Role"); }), "400 ValidationException");
  EXPECT_EQ(create_with([](json& b) { b.erase("Runtime"); }), "400 InvalidParameterValueException");
  EXPECT_EQ(create_with([](json& b) { b.erase("Code"); }), "400 ValidationException");
  EXPECT_EQ(create_with([](json& b) {
              b["Code"] = {{"S3Bucket", "b"}, {"S3Key", "k"}};
            }),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_with([](json& b) { b["Code"]["ZipFile"] = "not base64!"; }),
            "400 InvalidRequestContentException");
  EXPECT_EQ(create_with([](json& b) { b["MemorySize"] = "big"; }),
            "400 InvalidRequestContentException");
  EXPECT_EQ(create_with([](json& b) { b["Architectures"] = json::array({"arm64"}); }),
            "400 InvalidParameterValueException");
  EXPECT_EQ(create_with([](json& b) { b["PackageType"] = "Image"; }),
            "400 InvalidParameterValueException");
  EXPECT_EQ(error_of(call("POST", "/2015-03-31/functions", "{not json")),
            "400 InvalidRequestContentException");
  EXPECT_EQ(error_of(call("POST", "/2015-03-31/functions", "[1,2]")),
            "400 InvalidRequestContentException");
  // Nothing was created by any of these.
  EXPECT_EQ(json_of(call("GET", "/2015-03-31/functions/"))["Functions"].size(), 0u);
}

TEST_F(ApiTest, CreateRefusesBadPackagesNamingTheProblem) {
  auto message_for = [this](const std::string& zip) {
    const HttpResponse response = create(create_body("zipped", zip));
    EXPECT_EQ(error_of(response), "400 InvalidParameterValueException");
    return json_of(response)["Message"].get<std::string>();
  };
  EXPECT_NE(message_for("PK not really").find("Could not unzip"), std::string::npos);
  EXPECT_NE(message_for(make_zip({{.path = "../escape", .data = "x"}})).find("'../escape'"),
            std::string::npos);
  EXPECT_NE(
      message_for(
          make_zip({{.path = "l", .kind = TestZipEntry::Kind::kSymlink, .target = "/etc/shadow"}}))
          .find("Symlink 'l'"),
      std::string::npos);
}

TEST_F(ApiTest, CreateAcceptsTheBoundaryValues) {
  json low = create_body("low");
  low["MemorySize"] = 128;
  low["Timeout"] = 1;
  low["EphemeralStorage"] = {{"Size", 512}};
  EXPECT_EQ(create(low).status, 201);
  json high = create_body("high");
  high["MemorySize"] = 10240;
  high["Timeout"] = 900;
  high["EphemeralStorage"] = {{"Size", 10240}};
  EXPECT_EQ(create(high).status, 201);
}

TEST_F(ApiTest, GetFunctionByNameArnAndQualifier) {
  create_ok("named");
  for (const std::string name : {"named", "000000000000:function:named",
                                 "arn:aws:lambda:us-east-1:000000000000:function:named",
                                 "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Anamed",
                                 "named:$LATEST", "named?Qualifier=%24LATEST"}) {
    const HttpResponse response = call("GET", "/2015-03-31/functions/" + name);
    ASSERT_EQ(response.status, 200) << name << ": " << response.body;
    EXPECT_EQ(json_of(response)["Configuration"]["FunctionName"], "named");
  }
  EXPECT_EQ(error_of(call("GET", "/2015-03-31/functions/named?Qualifier=1")),
            "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("GET", "/2015-03-31/functions/named:1?Qualifier=2")),
            "400 InvalidParameterValueException");
  EXPECT_EQ(error_of(call("GET", "/2015-03-31/functions/bad%20name")), "400 ValidationException");
}

TEST_F(ApiTest, GetFunctionGivesADownloadLocation) {
  const std::string zip = hello_zip("download me");
  create_ok("dl", zip);
  const json got =
      json_of(call("GET", "/2015-03-31/functions/dl", "", {{"Host", "127.0.0.1:9000"}}));
  EXPECT_EQ(got["Code"]["RepositoryType"], "S3");
  const std::string location = got["Code"]["Location"];
  const std::string prefix = "http://127.0.0.1:9000";
  ASSERT_EQ(location.substr(0, prefix.size()), prefix);
  const HttpResponse download = call("GET", location.substr(prefix.size()));
  ASSERT_EQ(download.status, 200);
  EXPECT_EQ(download.body, zip);
  EXPECT_EQ(download.header("Content-Type"), "application/zip");
  EXPECT_EQ(error_of(call("GET", "/ember/v1/code/" + std::string(64, '0') + ".zip")),
            "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("GET", "/ember/v1/code/..%2F..%2Ffunctions.db")),
            "404 ResourceNotFoundException");
}

TEST_F(ApiTest, MissingFunctionsAreNotFoundWithTheirArn) {
  for (const auto& [method, suffix] :
       std::vector<std::pair<std::string, std::string>>{{"GET", ""},
                                                        {"GET", "/configuration"},
                                                        {"PUT", "/configuration"},
                                                        {"PUT", "/code"},
                                                        {"DELETE", ""},
                                                        {"POST", "/invocations"},
                                                        {"GET", "/logs"}}) {
    const std::string base = suffix == "/logs" ? "/ember/v1/functions/" : "/2015-03-31/functions/";
    std::string body = "{}";
    if (suffix == "/code") body = json{{"ZipFile", base64_encode(hello_zip())}}.dump();
    const HttpResponse response = call(method, base + "ghost" + suffix, body);
    EXPECT_EQ(error_of(response), "404 ResourceNotFoundException") << method << " " << suffix;
    EXPECT_EQ(json_of(response)["Message"],
              "Function not found: arn:aws:lambda:us-east-1:000000000000:function:ghost");
  }
}

TEST_F(ApiTest, ListFunctionsPagesWithMarkers) {
  for (const char* name : {"c", "a", "b"}) create_ok(name);
  const json first = json_of(call("GET", "/2015-03-31/functions/?MaxItems=2"));
  ASSERT_EQ(first["Functions"].size(), 2u);
  EXPECT_EQ(first["Functions"][0]["FunctionName"], "a");
  EXPECT_EQ(first["Functions"][1]["FunctionName"], "b");
  ASSERT_TRUE(first.contains("NextMarker"));
  const json rest = json_of(call(
      "GET", "/2015-03-31/functions/?MaxItems=2&Marker=" + first["NextMarker"].get<std::string>()));
  ASSERT_EQ(rest["Functions"].size(), 1u);
  EXPECT_EQ(rest["Functions"][0]["FunctionName"], "c");
  EXPECT_FALSE(rest.contains("NextMarker"));
  EXPECT_EQ(json_of(call("GET", "/2015-03-31/functions"))["Functions"].size(), 3u);
  EXPECT_EQ(json_of(call("GET", "/2015-03-31/functions/?MaxItems=1000"))["Functions"].size(), 3u);
  EXPECT_EQ(error_of(call("GET", "/2015-03-31/functions/?MaxItems=0")), "400 ValidationException");
  EXPECT_EQ(error_of(call("GET", "/2015-03-31/functions/?MaxItems=x")), "400 ValidationException");
}

TEST_F(ApiTest, ListFunctionsReturnsAtMostFiftyAPage) {
  for (int i = 0; i < 51; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "f%02d", i);
    create_ok(name);
  }
  const json page = json_of(call("GET", "/2015-03-31/functions/?MaxItems=100"));
  EXPECT_EQ(page["Functions"].size(), 50u);
  EXPECT_EQ(page["NextMarker"], "f49");
}

TEST_F(ApiTest, UpdateConfigurationMakesANewRevision) {
  const json created = create_ok("conf");
  json change = {{"MemorySize", 512},
                 {"Timeout", 30},
                 {"Description", "changed"},
                 {"Environment", {{"Variables", {{"MODE", "test"}}}}},
                 {"RevisionId", created["RevisionId"]}};
  const HttpResponse response =
      call("PUT", "/2015-03-31/functions/conf/configuration", change.dump());
  ASSERT_EQ(response.status, 200) << response.body;
  const json updated = json_of(response);
  EXPECT_EQ(updated["MemorySize"], 512);
  EXPECT_EQ(updated["Timeout"], 30);
  EXPECT_EQ(updated["Description"], "changed");
  EXPECT_EQ(updated["Environment"]["Variables"], json({{"MODE", "test"}}));
  EXPECT_EQ(updated["Runtime"], "python3.11");  // untouched fields stay
  EXPECT_NE(updated["RevisionId"], created["RevisionId"]);
  EXPECT_EQ(updated["CodeSha256"], created["CodeSha256"]);
  EXPECT_EQ(invoker_.retired_names(), std::vector<std::string>{"conf"});
  // The variables are replaced as a whole.
  ASSERT_EQ(call("PUT", "/2015-03-31/functions/conf/configuration",
                 json{{"Environment", {{"Variables", json::object()}}}}.dump())
                .status,
            200);
  EXPECT_EQ(
      json_of(call("GET", "/2015-03-31/functions/conf/configuration"))["Environment"]["Variables"],
      json::object());
}

TEST_F(ApiTest, UpdateConfigurationRefusesBadValuesAndStaleRevisions) {
  const json created = create_ok("strict");
  EXPECT_EQ(error_of(call("PUT", "/2015-03-31/functions/strict/configuration",
                          json{{"MemorySize", 64}}.dump())),
            "400 ValidationException");
  EXPECT_EQ(error_of(call("PUT", "/2015-03-31/functions/strict/configuration",
                          json{{"Runtime", "ruby3.2"}}.dump())),
            "400 InvalidParameterValueException");
  EXPECT_EQ(error_of(call("PUT", "/2015-03-31/functions/strict/configuration",
                          json{{"Timeout", 5}, {"RevisionId", "stale"}}.dump())),
            "412 PreconditionFailedException");
  EXPECT_EQ(error_of(call("PUT", "/2015-03-31/functions/strict/configuration", "nope")),
            "400 InvalidRequestContentException");
  const json now = json_of(call("GET", "/2015-03-31/functions/strict/configuration"));
  EXPECT_EQ(now["RevisionId"], created["RevisionId"]);
  EXPECT_EQ(now["MemorySize"], 128);
  EXPECT_EQ(now["Timeout"], 3);
}

TEST_F(ApiTest, UpdateCodeReplacesThePackageAndCollectsTheOld) {
  const json created = create_ok("coded", hello_zip("v1"));
  const std::string old_hex = hex_encode(sha256(hello_zip("v1")));
  const std::string new_zip = hello_zip("v2");
  const HttpResponse response = call("PUT", "/2015-03-31/functions/coded/code",
                                     json{{"ZipFile", base64_encode(new_zip)}}.dump());
  ASSERT_EQ(response.status, 200) << response.body;
  const json updated = json_of(response);
  EXPECT_EQ(updated["CodeSha256"], base64_encode(sha256(new_zip)));
  EXPECT_EQ(updated["CodeSize"], new_zip.size());
  EXPECT_NE(updated["RevisionId"], created["RevisionId"]);
  EXPECT_FALSE(fs::exists(dir_ + "/code/" + old_hex + ".zip"));
  EXPECT_FALSE(fs::exists(dir_ + "/code/" + old_hex + ".erofs"));
  EXPECT_TRUE(fs::exists(dir_ + "/code/" + hex_encode(sha256(new_zip)) + ".erofs"));
  EXPECT_EQ(invoker_.retired_names(), std::vector<std::string>{"coded"});
}

TEST_F(ApiTest, SharedPackagesStayWhileAnyFunctionUsesThem) {
  create_ok("one", hello_zip("shared"));
  create_ok("two", hello_zip("shared"));
  const std::string shared = dir_ + "/code/" + hex_encode(sha256(hello_zip("shared"))) + ".erofs";
  ASSERT_EQ(call("PUT", "/2015-03-31/functions/one/code",
                 json{{"ZipFile", base64_encode(hello_zip("own"))}}.dump())
                .status,
            200);
  EXPECT_TRUE(fs::exists(shared));
  ASSERT_EQ(call("DELETE", "/2015-03-31/functions/two").status, 204);
  EXPECT_FALSE(fs::exists(shared));
}

TEST_F(ApiTest, UpdateCodeDryRunAndErrors) {
  const json created = create_ok("dry");
  const HttpResponse dry =
      call("PUT", "/2015-03-31/functions/dry/code",
           json{{"ZipFile", base64_encode(hello_zip("new"))}, {"DryRun", true}}.dump());
  ASSERT_EQ(dry.status, 200);
  EXPECT_EQ(json_of(dry)["RevisionId"], created["RevisionId"]);
  EXPECT_FALSE(fs::exists(dir_ + "/code/" + hex_encode(sha256(hello_zip("new"))) + ".zip"));
  EXPECT_EQ(error_of(call("PUT", "/2015-03-31/functions/dry/code",
                          json{{"ZipFile", base64_encode("garbage")}}.dump())),
            "400 InvalidParameterValueException");
  EXPECT_EQ(error_of(call("PUT", "/2015-03-31/functions/dry/code", "{}")),
            "400 InvalidParameterValueException");
  EXPECT_EQ(
      error_of(call("PUT", "/2015-03-31/functions/dry/code",
                    json{{"ZipFile", base64_encode(hello_zip())}, {"RevisionId", "old"}}.dump())),
      "412 PreconditionFailedException");
}

TEST_F(ApiTest, DeleteRemovesTheFunctionItsCodeAndLogs) {
  create_ok("doomed");
  ASSERT_EQ(call("POST", "/2015-03-31/functions/doomed/invocations", "{}").status, 200);
  ASSERT_TRUE(fs::exists(dir_ + "/logs/doomed"));
  const HttpResponse deleted = call("DELETE", "/2015-03-31/functions/doomed");
  EXPECT_EQ(deleted.status, 204);
  EXPECT_EQ(deleted.body, "");
  EXPECT_EQ(error_of(call("GET", "/2015-03-31/functions/doomed")), "404 ResourceNotFoundException");
  EXPECT_FALSE(fs::exists(dir_ + "/logs/doomed"));
  EXPECT_FALSE(fs::exists(dir_ + "/code/" + hex_encode(sha256(hello_zip())) + ".zip"));
  EXPECT_EQ(invoker_.retired_names(), std::vector<std::string>{"doomed"});
  EXPECT_EQ(error_of(call("DELETE", "/2015-03-31/functions/doomed")),
            "404 ResourceNotFoundException");
  EXPECT_EQ(error_of(call("DELETE", "/2015-03-31/functions/doomed?Qualifier=3")),
            "404 ResourceNotFoundException");
}

TEST_F(ApiTest, UnknownRoutesAreClear4xx) {
  const HttpResponse unknown = call("GET", "/2015-03-31/layers");
  EXPECT_EQ(error_of(unknown), "404 UnknownOperationException");
  EXPECT_FALSE(json_of(unknown)["Message"].get<std::string>().empty());
  EXPECT_EQ(error_of(call("PATCH", "/2015-03-31/functions/x")), "405 UnknownOperationException");
  EXPECT_EQ(error_of(call("GET", "/")), "404 UnknownOperationException");
}

TEST_F(ApiTest, FunctionsSurviveARestart) {
  json body = create_body("durable");
  body["MemorySize"] = 256;
  body["Environment"] = {{"Variables", {{"KEEP", "me"}}}};
  const json created = json_of(create(body));
  close_state();
  open_state();
  const HttpResponse after = call("GET", "/2015-03-31/functions/durable/configuration");
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(json_of(after), created);
  EXPECT_TRUE(fs::exists(dir_ + "/code/" + hex_encode(sha256(hello_zip())) + ".erofs"));
}

}  // namespace
}  // namespace ember::host
