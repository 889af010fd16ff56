// Tests for the HTTP client's wire format: serialization, framing, parsing, encoding.
#include "host/cli/http_client.h"

#include <gtest/gtest.h>

namespace ember::cli {
namespace {

TEST(HttpClientTest, SerializesARequestWithLengthAndClose) {
  HttpRequest request{
      "POST", "/2015-03-31/functions", {{"Content-Type", "application/json"}}, "{\"a\":1}"};
  EXPECT_EQ(serialize_request(request, "localhost"),
            "POST /2015-03-31/functions HTTP/1.1\r\nHost: localhost\r\n"
            "Content-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n"
            "{\"a\":1}");
  HttpRequest get{"GET", "/x", {}, {}};
  EXPECT_EQ(serialize_request(get, "localhost"),
            "GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  // Over TCP the Host is the endpoint's HOST:PORT.
  EXPECT_EQ(serialize_request(get, "[::1]:9000"),
            "GET /x HTTP/1.1\r\nHost: [::1]:9000\r\nConnection: close\r\n\r\n");
}

TEST(HttpClientTest, ParsesAContentLengthResponse) {
  auto r = parse_response(
      "HTTP/1.1 404 Not Found\r\nx-amzn-ErrorType: ResourceNotFoundException\r\n"
      "Content-Length: 5\r\n\r\nhelloEXTRA");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->reason, "Not Found");
  EXPECT_EQ(r->body, "hello");
  ASSERT_NE(r->header("X-AMZN-ERRORTYPE"), nullptr);  // names compare case-insensitively
  EXPECT_EQ(*r->header("x-amzn-errortype"), "ResourceNotFoundException");
  EXPECT_EQ(r->header("X-Missing"), nullptr);
}

TEST(HttpClientTest, ParsesChunkedAndUnframedBodies) {
  auto chunked = parse_response(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6;ext=1\r\npedia \r\n"
      "0\r\n\r\n");
  ASSERT_TRUE(chunked.ok()) << chunked.error().message();
  EXPECT_EQ(chunked->body, "Wikipedia ");
  auto unframed = parse_response("HTTP/1.0 200 OK\r\n\r\nto the end");
  ASSERT_TRUE(unframed.ok());
  EXPECT_EQ(unframed->body, "to the end");
  auto no_content = parse_response("HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_TRUE(no_content.ok());
  EXPECT_EQ(no_content->status, 204);
  EXPECT_EQ(no_content->body, "");
}

TEST(HttpClientTest, SkipsAnInterimContinue) {
  auto r =
      parse_response("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
}

TEST(HttpClientTest, RefusesBrokenResponses) {
  EXPECT_FALSE(parse_response("").ok());
  EXPECT_FALSE(parse_response("SSH-2.0-OpenSSH\r\n\r\n").ok());
  EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").ok());
  EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").ok());
  EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab").ok());
  EXPECT_FALSE(parse_response("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n").ok());
}

TEST(HttpClientTest, PercentEncodesPathSegments) {
  EXPECT_EQ(percent_encode("my-function_1.0~x"), "my-function_1.0~x");
  EXPECT_EQ(percent_encode("a b/c:d"), "a%20b%2Fc%3Ad");
}

}  // namespace
}  // namespace ember::cli
