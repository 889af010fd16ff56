// Tests for function URLs with AuthType AWS_IAM: a request SigV4-signed for lambda with a known
// key runs the function; every other one is answered 403 as Lambda's URLs answer, and the
// function does not run. AuthType NONE URLs stay public.
#include <gtest/gtest.h>

#include <ctime>

#include "host/api/function_url_test_fixture.h"
#include "host/api/request_auth.h"
#include "host/api/sigv4.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr char kKeyId[] = "AKIDEMBERURLTEST";
constexpr char kSecret[] = "dXJsLXNlY3JldC10aGF0LWlzLWxvbmctZW5vdWdo";
constexpr char kMismatch[] =
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details.";
const json kIam = {{"AuthType", "AWS_IAM"}};

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

// Signs request as botocore's SigV4Auth does: host and x-amz-date signed, the body's SHA-256
// as payload hash, the scope's region us-east-1.
HttpRequest signed_by(HttpRequest request, int64_t at = now(), const std::string& key_id = kKeyId,
                      const std::string& secret = kSecret, const std::string& service = "lambda") {
  const std::string date = sigv4_amz_date(at);
  request.headers["x-amz-date"] = date;
  const SigV4Message message{request.method,
                             request.path,
                             request.raw_query,
                             {{"host", request.headers.at("host")}, {"x-amz-date", date}},
                             sha256_hex(request.body)};
  request.headers["authorization"] = sigv4_authorization(
      message, key_id, secret, date, SigV4Scope{date.substr(0, 8), "us-east-1", service});
  return request;
}

class FunctionUrlAuthTest : public FunctionUrlApiTest {
 protected:
  void SetUp() override {
    FunctionUrlApiTest::SetUp();
    url_api_->check_signatures_with(authenticator_);
  }

  HttpResponse send(const HttpRequest& request) { return settled(api_->handle(request)); }

  // A refusal: 403 with x-amzn-ErrorType `type` and a request id, and nothing invoked.
  void expect_refused(const HttpResponse& response, const std::string& type) {
    EXPECT_EQ(response.status, 403) << response.body;
    EXPECT_EQ(response.header("x-amzn-ErrorType"), type) << response.body;
    EXPECT_FALSE(response.header("x-amzn-RequestId").empty());
    EXPECT_TRUE(invoker_.seen().empty());
  }

  const RequestAuthenticator authenticator_{
      RequestAuthOptions{.keys = {{kKeyId, kSecret}}, .region = "us-east-1"}};
};

TEST_F(FunctionUrlAuthTest, AwsIamUrlsAreCreatedAndShown) {
  create_ok("hello");
  const HttpResponse created = create_url("hello", kIam);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json_of(created)["AuthType"], "AWS_IAM");
  EXPECT_EQ(json_of(call("GET", "/2021-10-31/functions/hello/url"))["AuthType"], "AWS_IAM");
  const HttpResponse updated =
      call("PUT", "/2021-10-31/functions/hello/url", json{{"AuthType", "NONE"}}.dump());
  EXPECT_EQ(json_of(updated)["AuthType"], "NONE");
}

TEST_F(FunctionUrlAuthTest, ASignedRequestRunsTheFunction) {
  const std::string path = url_path_ok(kIam);
  const HttpResponse got = send(signed_by(url_request("GET", path + "items/a%20b?tag=x&n=1")));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json_of(got)["rawPath"], "/items/a%20b");
  EXPECT_EQ(json_of(got)["rawQueryString"], "tag=x&n=1");
  const HttpResponse posted = send(signed_by(
      url_request("POST", path, R"({"amount":1})", {{"content-type", "application/json"}})));
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(json_of(posted)["body"], R"({"amount":1})");
  EXPECT_EQ(invoker_.seen().size(), 2u);
  // Within the 5 minutes of skew.
  EXPECT_EQ(send(signed_by(url_request("GET", path), now() - 240)).status, 200);
}

TEST_F(FunctionUrlAuthTest, AnUnsignedRequestIsForbidden) {
  const std::string path = url_path_ok(kIam);
  const HttpResponse refused = fetch("GET", path + "items");
  expect_refused(refused, "AccessDeniedException");
  EXPECT_EQ(json_of(refused), (json{{"Message", "Forbidden"}}));
  EXPECT_EQ(refused.header("Content-Type"), "application/json");
  expect_refused(fetch("POST", path, "{}", {{"authorization", ""}}), "AccessDeniedException");
  const HttpResponse head = fetch("HEAD", path);
  expect_refused(head, "AccessDeniedException");
  EXPECT_TRUE(head.body.empty());
}

TEST_F(FunctionUrlAuthTest, AnUnknownKeyOrAWrongSecretIsRefused) {
  const std::string path = url_path_ok(kIam);
  const HttpResponse unknown = send(signed_by(url_request("GET", path), now(), "AKIDUNKNOWN"));
  expect_refused(unknown, "UnrecognizedClientException");
  EXPECT_EQ(json_of(unknown)["message"], "The security token included in the request is invalid.");
  const HttpResponse wrong =
      send(signed_by(url_request("GET", path), now(), kKeyId, "not-the-secret"));
  expect_refused(wrong, "InvalidSignatureException");
  EXPECT_EQ(json_of(wrong)["message"], kMismatch);
}

TEST_F(FunctionUrlAuthTest, ATamperedRequestIsRefused) {
  const std::string path = url_path_ok(kIam);
  HttpRequest body = signed_by(url_request("POST", path, R"({"amount":1})"));
  body.body = R"({"amount":9})";
  const HttpResponse refused = send(body);
  expect_refused(refused, "InvalidSignatureException");
  EXPECT_EQ(json_of(refused)["message"], kMismatch);

  HttpRequest query = signed_by(url_request("GET", path + "?n=1"));
  query.raw_query = "n=2";
  expect_refused(send(query), "InvalidSignatureException");
  HttpRequest sub_path = signed_by(url_request("GET", path + "public"));
  sub_path.path = path + "admin";
  expect_refused(send(sub_path), "InvalidSignatureException");
  // A signature for this URL does not open another: the id is part of the signed path.
  HttpRequest other =
      signed_by(url_request("GET", "/lambda-url/00000000000000000000000000000000/"));
  other.path = path;
  expect_refused(send(other), "InvalidSignatureException");
}

TEST_F(FunctionUrlAuthTest, AStaleOrFutureDateIsRefused) {
  const std::string path = url_path_ok(kIam);
  const HttpResponse stale = send(signed_by(url_request("GET", path), now() - 600));
  expect_refused(stale, "InvalidSignatureException");
  EXPECT_TRUE(json_of(stale)["message"].get<std::string>().starts_with("Signature expired: "))
      << stale.body;
  const HttpResponse future = send(signed_by(url_request("GET", path), now() + 600));
  expect_refused(future, "InvalidSignatureException");
  EXPECT_TRUE(
      json_of(future)["message"].get<std::string>().starts_with("Signature not yet current: "))
      << future.body;
}

TEST_F(FunctionUrlAuthTest, OnlyTheLambdaServiceOpensAUrl) {
  const std::string path = url_path_ok(kIam);
  const HttpResponse scheduler =
      send(signed_by(url_request("GET", path), now(), kKeyId, kSecret, "scheduler"));
  expect_refused(scheduler, "InvalidSignatureException");
  EXPECT_EQ(json_of(scheduler)["message"],
            "Credential should be scoped to correct service: 'lambda', not 'scheduler'. ");
}

TEST_F(FunctionUrlAuthTest, TheUnixSocketNeedsASignatureToo) {
  const std::string path = url_path_ok(kIam);
  HttpRequest over_unix = url_request("GET", path);
  over_unix.unix_socket = true;
  over_unix.peer_address.clear();
  over_unix.headers["host"] = "localhost";
  expect_refused(send(over_unix), "AccessDeniedException");
  EXPECT_EQ(send(signed_by(over_unix)).status, 200);
}

TEST_F(FunctionUrlAuthTest, NoneUrlsStayPublic) {
  const std::string path = url_path_ok();
  EXPECT_EQ(fetch("GET", path).status, 200);
  // An Authorization header means nothing to a NONE URL, even a wrong one.
  EXPECT_EQ(fetch("GET", path, "", {{"authorization", "AWS4-HMAC-SHA256 Signature=00"}}).status,
            200);
  EXPECT_EQ(invoker_.seen().size(), 2u);

  ASSERT_EQ(call("PUT", "/2021-10-31/functions/hello/url", kIam.dump()).status, 200);
  EXPECT_EQ(fetch("GET", path).status, 403);
  EXPECT_EQ(send(signed_by(url_request("GET", path))).status, 200);
  ASSERT_EQ(
      call("PUT", "/2021-10-31/functions/hello/url", json{{"AuthType", "NONE"}}.dump()).status,
      200);
  EXPECT_EQ(fetch("GET", path).status, 200);
  EXPECT_EQ(invoker_.seen().size(), 4u);
}

TEST_F(FunctionUrlAuthTest, PreflightsAreAnsweredButRefusalsCarryCors) {
  // Browsers never sign a preflight, and answering one runs nothing.
  const std::string path = url_path_ok(app_cors("AWS_IAM"));
  const HttpResponse preflighted = preflight(path);
  EXPECT_EQ(preflighted.status, 200);
  EXPECT_EQ(preflighted.header("Access-Control-Allow-Origin"), "https://app.example");
  const HttpResponse refused = fetch("POST", path, "{}", {{"origin", "https://app.example"}});
  expect_refused(refused, "AccessDeniedException");
  EXPECT_EQ(refused.header("Access-Control-Allow-Origin"), "https://app.example");
}

// Without --credentials (--insecure-no-auth, or the Unix socket alone) no signature can be
// checked: every request to an AWS_IAM URL is refused, saying why.
TEST_F(FunctionUrlApiTest, WithoutCredentialsAwsIamUrlsRefuseEveryRequest) {
  const std::string path = url_path_ok(kIam);
  for (const HttpResponse& refused :
       {fetch("GET", path), settled(api_->handle(signed_by(url_request("GET", path))))}) {
    EXPECT_EQ(refused.status, 403);
    EXPECT_EQ(refused.header("x-amzn-ErrorType"), "AccessDeniedException");
    const std::string message = json_of(refused)["Message"].get<std::string>();
    EXPECT_TRUE(message.starts_with("Forbidden.")) << message;
    EXPECT_NE(message.find("without --credentials"), std::string::npos) << message;
  }
  const RequestAuthenticator no_keys(RequestAuthOptions{});  // as with --insecure-no-auth
  url_api_->check_signatures_with(no_keys);
  EXPECT_NE(fetch("GET", path).body.find("--credentials"), std::string::npos);
  EXPECT_TRUE(invoker_.seen().empty());
}

}  // namespace
}  // namespace ember::host
