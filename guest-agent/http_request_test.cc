// Tests for HttpRequestParser: framing, split input, pipelining, limits and malformed input.
#include "guest-agent/http_request.h"

#include <gtest/gtest.h>

namespace ember::agent {
namespace {

// Parses `input` fed in one piece and expects a refusal with this status.
HttpParseError refusal(const std::string& input, HttpLimits limits = {}) {
  HttpRequestParser p(limits);
  p.feed(input);
  EXPECT_FALSE(p.next().has_value()) << input;
  EXPECT_TRUE(p.error().has_value()) << input;
  return p.error().value_or(HttpParseError{0, "no error", std::nullopt});
}

TEST(HttpRequestParser, GetWithHeaders) {
  HttpRequestParser p;
  p.feed(
      "GET /2018-06-01/runtime/invocation/next?x=1 HTTP/1.1\r\nHost: a\r\n"
      "X-Thing:  spaced value \t\r\n\r\n");
  auto r = p.next();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->target, "/2018-06-01/runtime/invocation/next?x=1");
  EXPECT_EQ(r->path(), "/2018-06-01/runtime/invocation/next");
  EXPECT_EQ(r->minor_version, 1);
  EXPECT_EQ(r->header("x-thing"), "spaced value");
  EXPECT_EQ(r->header("HOST"), "a");
  EXPECT_FALSE(r->header("missing").has_value());
  EXPECT_TRUE(r->body.empty());
  EXPECT_TRUE(r->keep_alive());
  EXPECT_FALSE(p.next().has_value());
  EXPECT_FALSE(p.error().has_value());
}

TEST(HttpRequestParser, ContentLengthBodyFedByteByByte) {
  const std::string input =
      "POST /r HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world"
      "POST /s HTTP/1.1\nContent-Length: 2\n\nok";  // bare LF line ends are accepted too
  HttpRequestParser p;
  std::vector<HttpRequest> got;
  for (char c : input) {
    p.feed(std::string_view(&c, 1));
    while (auto r = p.next()) got.push_back(std::move(*r));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, "hello world");
  EXPECT_EQ(got[1].target, "/s");
  EXPECT_EQ(got[1].body, "ok");
  EXPECT_FALSE(p.error().has_value());
}

TEST(HttpRequestParser, PipelinedRequestsComeOutInOrder) {
  HttpRequestParser p;
  p.feed(
      "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /c "
      "HTTP/1.0\r\n\r\n");
  auto a = p.next(), b = p.next(), c = p.next();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->target, "/a");
  EXPECT_EQ(b->body, "x");
  EXPECT_EQ(c->minor_version, 0);
  EXPECT_FALSE(c->keep_alive());  // HTTP/1.0 without keep-alive
  EXPECT_FALSE(p.next().has_value());
}

TEST(HttpRequestParser, ChunkedBodyWithExtensionsAndTrailers) {
  HttpRequestParser p;
  p.feed(
      "POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "1A\r\n abcdefghijklmnopqrstuvwxy\r\n"
      "0\r\nTrailer-Field: t\r\n\r\n"
      "GET /next HTTP/1.1\r\n\r\n");
  auto r = p.next();
  ASSERT_TRUE(r.has_value()) << (p.error() ? p.error()->message : "");
  EXPECT_EQ(r->body, "hello abcdefghijklmnopqrstuvwxy");
  auto next = p.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->target, "/next");
}

TEST(HttpRequestParser, ChunkedBodySplitAnywhere) {
  const std::string input =
      "POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  for (size_t cut = 1; cut < input.size(); ++cut) {
    HttpRequestParser p;
    p.feed(input.substr(0, cut));
    auto early = p.next();
    ASSERT_FALSE(early.has_value()) << cut;
    ASSERT_FALSE(p.error().has_value()) << cut << ": " << p.error()->message;
    p.feed(input.substr(cut));
    auto r = p.next();
    ASSERT_TRUE(r.has_value()) << cut;
    EXPECT_EQ(r->body, "abcde");
  }
}

TEST(HttpRequestParser, ConnectionHeaderDecidesKeepAlive) {
  auto parse = [](const std::string& head) {
    HttpRequestParser p;
    p.feed(head + "\r\n");
    return p.next().value();
  };
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nConnection: close\r\n").keep_alive());
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nConnection: Upgrade, Close\r\n").keep_alive());
  EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n").keep_alive());
  EXPECT_TRUE(parse("GET / HTTP/1.1\r\n").keep_alive());
}

TEST(HttpRequestParser, ExpectContinueIsReportedOnceWhileTheBodyIsMissing) {
  HttpRequestParser p;
  p.feed("POST /r HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  EXPECT_FALSE(p.next().has_value());
  EXPECT_TRUE(p.take_continue_request());
  EXPECT_FALSE(p.take_continue_request());
  p.feed("abc");
  auto r = p.next();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "abc");
  EXPECT_FALSE(p.take_continue_request());
}

TEST(HttpRequestParser, MalformedInputIsRefusedWith400) {
  const char* bad[] = {
      "GARBAGE\r\n\r\n",
      "GET /\r\n\r\n",
      "GET  / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1 extra\r\n\r\n",
      "G(T / HTTP/1.1\r\n\r\n",
      "GET / HTTX/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
      "GET / HTTP/1.1\r\nName : value\r\n\r\n",
      "GET / HTTP/1.1\r\n: value\r\n\r\n",
      "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
      "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
      "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
  };
  for (const char* input : bad) {
    EXPECT_EQ(refusal(input).status, 400) << input;
  }
}

TEST(HttpRequestParser, OtherRefusalsHaveTheirOwnStatus) {
  EXPECT_EQ(refusal("GET / HTTP/2.0\r\n\r\n").status, 505);
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").status, 501);
  HttpLimits small{.max_head_bytes = 64, .max_headers = 2, .max_body_bytes = 10};
  // An endless header line is refused before its end arrives.
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nX: " + std::string(100, 'a'), small).status, 431);
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", small).status, 431);
  EXPECT_EQ(refusal(std::string(70, '\n'), small).status, 431);  // empty lines count too
  EXPECT_EQ(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n" +
                        std::string(70, 't'),
                    small)
                .status,
            431);
}

TEST(HttpRequestParser, OversizedBodiesAreRefusedWithTheirHead) {
  HttpLimits limits{.max_body_bytes = 10};
  HttpParseError length = refusal(
      "POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\n"
      "Content-Length: 11\r\n\r\n",
      limits);
  EXPECT_EQ(length.status, 413);
  ASSERT_TRUE(length.head.has_value());
  EXPECT_EQ(length.head->path(), "/2018-06-01/runtime/invocation/abc/response");

  HttpParseError chunked =
      refusal("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n", limits);
  EXPECT_EQ(chunked.status, 413);
  ASSERT_TRUE(chunked.head.has_value());
  EXPECT_EQ(chunked.head->target, "/c");

  HttpRequestParser exact(limits);
  exact.feed("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789");
  auto r = exact.next();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "0123456789");
}

TEST(HttpRequestParser, AfterARefusalNothingMoreComesOut) {
  HttpRequestParser p;
  p.feed("BAD\r\n\r\n");
  EXPECT_FALSE(p.next().has_value());
  ASSERT_TRUE(p.error().has_value());
  p.feed("GET / HTTP/1.1\r\n\r\n");
  EXPECT_FALSE(p.next().has_value());
}

TEST(HttpResponse, FramingAndHeaderSanitizing) {
  std::string r = format_http_response(202, {{"A", "x\r\nInjected: y"}}, "{}", true);
  EXPECT_EQ(r, "HTTP/1.1 202 Accepted\r\nA: xInjected: y\r\nContent-Length: 2\r\n\r\n{}");
  std::string closing = format_http_response(413, {}, "", false);
  EXPECT_EQ(closing,
            "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_STREQ(http_reason(299), "Unknown");
}

}  // namespace
}  // namespace ember::agent
