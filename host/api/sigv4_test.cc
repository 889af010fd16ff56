// Tests for SigV4: AWS's published test suite values (get-vanilla, get-vanilla-query-order-key-
// case, post-vanilla) and signatures made by botocore's SigV4Auth for Lambda requests.
#include "host/api/sigv4.h"

#include <gtest/gtest.h>

namespace ember::host {
namespace {

constexpr char kKeyId[] = "AKIDEXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr char kDate[] = "20150830T123600Z";
constexpr char kEmptyHash[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

SigV4Message vanilla(std::string method, std::string raw_query = "") {
  return {std::move(method), "/", std::move(raw_query),
          {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kDate}}, kEmptyHash};
}

const SigV4Scope kServiceScope{"20150830", "us-east-1", "service"};

TEST(SigV4, GetVanillaFromAwsTestSuite) {
  const SigV4Message message = vanilla("GET");
  const std::string canonical = sigv4_canonical_request(message);
  EXPECT_EQ(canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
            + std::string(kEmptyHash));
  EXPECT_EQ(sigv4_string_to_sign(kDate, kServiceScope, canonical),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(sigv4_authorization(message, kKeyId, kSecret, kDate, kServiceScope),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, GetVanillaQueryOrderKeyCase) {
  const SigV4Message message = vanilla("GET", "Param2=value2&Param1=value1");
  EXPECT_EQ(sigv4_canonical_query(message.raw_query), "Param1=value1&Param2=value2");
  EXPECT_EQ(sigv4_signature(message, kSecret, kDate, kServiceScope),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, PostVanilla) {
  EXPECT_EQ(sigv4_signature(vanilla("POST"), kSecret, kDate, kServiceScope),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

// botocore 1.43's SigV4Auth for service "lambda", at 2015-08-30T12:36:00Z.
TEST(SigV4, MatchesBotocoreForAnEncodedArnAndAQualifier) {
  const SigV4Scope scope{"20150830", "us-east-1", "lambda"};
  const SigV4Message message{
      "GET",
      "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Ax/configuration",
      "Qualifier=%24LATEST",
      {{"host", "127.0.0.1:9000"}, {"x-amz-date", kDate}},
      kEmptyHash};
  // Non-S3 services encode the already-encoded path once more.
  EXPECT_EQ(sigv4_canonical_uri(message.path),
            "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A1%253Afunction%253Ax/"
            "configuration");
  EXPECT_EQ(sigv4_signature(message, kSecret, kDate, scope),
            "c423fdb1c344e40177d3d81c2fcf49f26fced0a7bf678c39776eb98e5b309b9a");
}

TEST(SigV4, MatchesBotocoreForAnInvokeWithABody) {
  const SigV4Scope scope{"20150830", "us-east-1", "lambda"};
  const SigV4Message message{"POST",
                             "/2015-03-31/functions/hello/invocations",
                             "",
                             {{"Host", "127.0.0.1:9000"},
                              {"X-Amz-Date", kDate},
                              {"X-Amz-Invocation-Type", "Event"}},
                             sha256_hex(R"({"a": 1})")};
  EXPECT_EQ(message.payload_sha256_hex,
            "f9d86028c6e0d64e225186f96acb69338b2c59764df79162107f5c4bb34d1310");
  EXPECT_EQ(sigv4_signed_headers(message), "host;x-amz-date;x-amz-invocation-type");
  EXPECT_EQ(sigv4_signature(message, kSecret, kDate, scope),
            "3be448ab2cec0122cccda18511f4be6ba2ca0945d87f0397f1034aa38c161db7");
}

TEST(SigV4, CanonicalFormsFollowTheSpec) {
  EXPECT_EQ(sigv4_canonical_uri(""), "/");
  EXPECT_EQ(sigv4_canonical_uri("/a/./b/../c//d/"), "/a/c/d/");
  EXPECT_EQ(sigv4_canonical_uri("/.."), "/");
  EXPECT_EQ(sigv4_canonical_uri("/a b"), "/a%20b");
  // Decoded, re-encoded the AWS way, sorted by name then value; empty values kept.
  EXPECT_EQ(sigv4_canonical_query("b=2&a=%7e&a=1&c&d=x%2fy"), "a=1&a=~&b=2&c=&d=x%2Fy");
  EXPECT_EQ(sigv4_uri_encode("a-._~/ é", false), "a-._~%2F%20%C3%A9");
  // Header values trimmed and inner whitespace collapsed.
  SigV4Message spaced = vanilla("GET");
  spaced.headers.emplace_back("My-Header1", "  a   b   c  ");
  EXPECT_NE(sigv4_canonical_request(spaced).find("\nmy-header1:a b c\n"), std::string::npos);
}

TEST(SigV4, ParsesTheAuthorizationHeader) {
  auto parsed = parse_sigv4_authorization(
      "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/lambda/aws4_request, "
      "SignedHeaders=Host;x-amz-date,Signature=abc123");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->access_key_id, "AKID");
  EXPECT_EQ(parsed->scope.date, "20150830");
  EXPECT_EQ(parsed->scope.region, "us-east-1");
  EXPECT_EQ(parsed->scope.service, "lambda");
  EXPECT_EQ(parsed->terminator, "aws4_request");
  EXPECT_EQ(parsed->signed_headers, (std::vector<std::string>{"host", "x-amz-date"}));
  EXPECT_EQ(parsed->signature, "abc123");

  auto other = parse_sigv4_authorization("AWS AKID:signature");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().context.find("Unsupported AWS 'algorithm': 'AWS'"), std::string::npos);
  auto incomplete = parse_sigv4_authorization("AWS4-HMAC-SHA256 SignedHeaders=host");
  ASSERT_FALSE(incomplete.ok());
  EXPECT_EQ(incomplete.error().context,
            "Authorization header requires 'Credential' parameter. Authorization header requires "
            "'Signature' parameter.");
  EXPECT_FALSE(parse_sigv4_authorization(
                   "AWS4-HMAC-SHA256 Credential=AKID/2015/us-east-1, SignedHeaders=host, "
                   "Signature=ab")
                   .ok());
}

TEST(SigV4, AmzDatesRoundTrip) {
  EXPECT_EQ(sigv4_amz_date(1440938160), kDate);
  EXPECT_EQ(parse_sigv4_amz_date(kDate), 1440938160);
  EXPECT_FALSE(parse_sigv4_amz_date("2015-08-30T12:36:00Z"));
  EXPECT_FALSE(parse_sigv4_amz_date("20151330T123600Z"));
  EXPECT_FALSE(parse_sigv4_amz_date("20150830T123600"));
}

}  // namespace
}  // namespace ember::host
