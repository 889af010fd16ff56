// Tests for RequestAuthenticator and AuthenticatingHandler: signed requests pass, and each way
// a request can be wrong gets AWS's error type and message.
#include "host/api/request_auth.h"

#include <gtest/gtest.h>

#include "host/api/sigv4.h"

namespace ember::host {
namespace {

constexpr char kKeyId[] = "AKIDEMBERTEST";
constexpr char kSecret[] = "c2VjcmV0LXRoYXQtaXMtbG9uZy1lbm91Z2g";
constexpr int64_t kNow = 1440938160;  // 20150830T123600Z

RequestAuthOptions options() {
  return {.keys = {{kKeyId, kSecret}}, .region = "us-east-1"};
}

// A request as it arrives over TCP, signed at signed_at for scope's service and region.
HttpRequest signed_request(const std::string& body, int64_t signed_at = kNow,
                           const std::string& service = "lambda",
                           const std::string& region = "us-east-1",
                           const std::string& key_id = kKeyId) {
  HttpRequest request;
  request.method = "POST";
  request.path = "/2015-03-31/functions/hello%3A1/invocations";
  request.raw_query = "Qualifier=%24LATEST";
  request.peer_address = "127.0.0.1";
  request.body = body;
  const std::string date = sigv4_amz_date(signed_at);
  request.headers = {{"host", "127.0.0.1:9000"},
                     {"x-amz-date", date},
                     {"content-type", "application/json"}};
  const SigV4Message message{request.method, request.path, request.raw_query,
                             {{"host", "127.0.0.1:9000"}, {"x-amz-date", date}},
                             sha256_hex(body)};
  request.headers["authorization"] = sigv4_authorization(
      message, key_id, kSecret, date, SigV4Scope{date.substr(0, 8), region, service});
  return request;
}

ApiError refusal(const HttpRequest& request, int64_t now = kNow) {
  const RequestAuthenticator authenticator(options());
  auto verified = authenticator.verify(request, now);
  EXPECT_FALSE(verified.ok());
  return verified.ok() ? ApiError{} : verified.error();
}

TEST(RequestAuthenticator, AcceptsASignedRequestForLambdaAndScheduler) {
  const RequestAuthenticator authenticator(options());
  EXPECT_TRUE(authenticator.verify(signed_request(R"({"a":1})"), kNow).ok());
  EXPECT_TRUE(authenticator.verify(signed_request("", kNow, "scheduler"), kNow).ok());
  // Within the 5 minutes of skew either way.
  EXPECT_TRUE(authenticator.verify(signed_request("", kNow - 299), kNow).ok());
  EXPECT_TRUE(authenticator.verify(signed_request("", kNow + 299), kNow).ok());
  // A matching x-amz-content-sha256 is fine (it need not be signed).
  HttpRequest with_hash = signed_request("x");
  with_hash.headers["x-amz-content-sha256"] = sha256_hex("x");
  EXPECT_TRUE(authenticator.verify(with_hash, kNow).ok());
}

TEST(RequestAuthenticator, NoAuthorizationIsAMissingToken) {
  HttpRequest request = signed_request("");
  request.headers.erase("authorization");
  const ApiError error = refusal(request);
  EXPECT_EQ(error.status, 403);
  EXPECT_EQ(error.type, "MissingAuthenticationTokenException");
  EXPECT_EQ(error.message, "Missing Authentication Token");
}

TEST(RequestAuthenticator, AnUnknownKeyIsAnUnrecognizedClient) {
  const ApiError error = refusal(signed_request("", kNow, "lambda", "us-east-1", "AKIDUNKNOWN"));
  EXPECT_EQ(error.status, 403);
  EXPECT_EQ(error.type, "UnrecognizedClientException");
  EXPECT_EQ(error.message, "The security token included in the request is invalid.");
}

TEST(RequestAuthenticator, ATamperedRequestHasAnInvalidSignature) {
  const std::string mismatch =
      "The request signature we calculated does not match the signature you provided. Check "
      "your AWS Secret Access Key and signing method. Consult the service documentation for "
      "details.";
  HttpRequest body = signed_request(R"({"amount":1})");
  body.body = R"({"amount":9})";
  ApiError error = refusal(body);
  EXPECT_EQ(error.status, 403);
  EXPECT_EQ(error.type, "InvalidSignatureException");
  EXPECT_EQ(error.message, mismatch);

  HttpRequest query = signed_request("");
  query.raw_query = "Qualifier=2";
  EXPECT_EQ(refusal(query).message, mismatch);
  HttpRequest path = signed_request("");
  path.path = "/2015-03-31/functions/other/invocations";
  EXPECT_EQ(refusal(path).message, mismatch);
  HttpRequest host = signed_request("");
  host.headers["host"] = "evil:9000";
  EXPECT_EQ(refusal(host).message, mismatch);
  HttpRequest signature = signed_request("");
  std::string& auth = signature.headers["authorization"];
  auth.back() = auth.back() == '0' ? '1' : '0';
  EXPECT_EQ(refusal(signature).message, mismatch);

  HttpRequest claimed = signed_request("x");
  claimed.headers["x-amz-content-sha256"] = sha256_hex("y");
  error = refusal(claimed);
  EXPECT_EQ(error.type, "InvalidSignatureException");
  EXPECT_NE(error.message.find("x-amz-content-sha256"), std::string::npos);
}

TEST(RequestAuthenticator, AStaleOrFutureDateHasExpired) {
  ApiError error = refusal(signed_request("", kNow - 301));
  EXPECT_EQ(error.status, 403);
  EXPECT_EQ(error.type, "InvalidSignatureException");
  EXPECT_EQ(error.message,
            "Signature expired: 20150830T123059Z is now earlier than 20150830T123100Z "
            "(20150830T123600Z - 5 min.)");
  error = refusal(signed_request("", kNow + 301));
  EXPECT_EQ(error.type, "InvalidSignatureException");
  EXPECT_EQ(error.message,
            "Signature not yet current: 20150830T124101Z is still later than 20150830T124100Z "
            "(20150830T123600Z + 5 min.)");
}

TEST(RequestAuthenticator, TheScopeMustNameThisRegionAndAnEmberService) {
  ApiError error = refusal(signed_request("", kNow, "lambda", "eu-west-1"));
  EXPECT_EQ(error.type, "InvalidSignatureException");
  EXPECT_NE(error.message.find("Credential should be scoped to a valid region, not 'eu-west-1'"),
            std::string::npos);
  error = refusal(signed_request("", kNow, "s3"));
  EXPECT_EQ(error.type, "InvalidSignatureException");
  EXPECT_EQ(error.message,
            "Credential should be scoped to correct service: 'lambda' or 'scheduler', not 's3'. ");
}

TEST(RequestAuthenticator, TheCallerMayNarrowTheServices) {
  const RequestAuthenticator authenticator(options());
  EXPECT_TRUE(authenticator.verify(signed_request(""), kNow, {"lambda"}).ok());
  auto refused = authenticator.verify(signed_request("", kNow, "scheduler"), kNow, {"lambda"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().type, "InvalidSignatureException");
  EXPECT_EQ(refused.error().message,
            "Credential should be scoped to correct service: 'lambda', not 'scheduler'. ");
  EXPECT_TRUE(authenticator.has_keys());
  EXPECT_FALSE(RequestAuthenticator(RequestAuthOptions{}).has_keys());
}

TEST(RequestAuthenticator, HostAndDateMustBeSigned) {
  HttpRequest no_date = signed_request("");
  no_date.headers.erase("x-amz-date");
  EXPECT_EQ(refusal(no_date).type, "IncompleteSignatureException");
  HttpRequest unsigned_host = signed_request("");
  std::string& auth = unsigned_host.headers["authorization"];
  auth.replace(auth.find("SignedHeaders=host;"), 19, "SignedHeaders=");
  const ApiError error = refusal(unsigned_host);
  EXPECT_EQ(error.type, "IncompleteSignatureException");
  EXPECT_NE(error.message.find("'Host' must be a 'SignedHeader'"), std::string::npos);
  HttpRequest garbled = signed_request("");
  garbled.headers["authorization"] = "AWS4-HMAC-SHA256 Signature=00";
  EXPECT_EQ(refusal(garbled).type, "IncompleteSignatureException");
}

// Counts what reaches it.
class CountingHandler : public HttpHandler {
 public:
  size_t body_limit(std::string_view, std::string_view) const override { return 1024; }
  HttpResponse handle(const HttpRequest&) override {
    ++handled;
    return HttpResponse{200, {}, "done"};
  }
  HttpResponse reject(HttpRejection, std::string_view, std::string_view,
                      std::string_view) const override {
    return HttpResponse{400, {}, ""};
  }
  int handled = 0;
};

TEST(AuthenticatingHandler, RefusedTcpRequestsNeverReachTheApi) {
  CountingHandler inner;
  const RequestAuthenticator authenticator(options());
  AuthenticatingHandler handler(inner, authenticator);
  HttpRequest unsigned_request;
  unsigned_request.method = "GET";
  unsigned_request.path = "/2015-03-31/functions/";
  unsigned_request.peer_address = "192.0.2.7";
  const HttpResponse refused = handler.handle(unsigned_request);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.header("x-amzn-ErrorType"), "MissingAuthenticationTokenException");
  EXPECT_NE(refused.body.find(R"("message":"Missing Authentication Token")"), std::string::npos);
  EXPECT_FALSE(refused.header("x-amzn-RequestId").empty());
  EXPECT_EQ(inner.handled, 0);

  // A fresh signature (the authenticator reads the real clock here).
  const HttpResponse accepted = handler.handle(signed_request("{}", std::time(nullptr)));
  EXPECT_EQ(accepted.status, 200);
  EXPECT_EQ(inner.handled, 1);

  HttpRequest over_unix = unsigned_request;
  over_unix.unix_socket = true;
  over_unix.peer_address = "";
  EXPECT_EQ(handler.handle(over_unix).status, 200);  // the socket's mode is its control
  HttpRequest url = unsigned_request;
  url.path = "/lambda-url/abc/";
  EXPECT_EQ(handler.handle(url).status, 200);  // function URLs check their own AuthType
  EXPECT_EQ(inner.handled, 3);
}

}  // namespace
}  // namespace ember::host
