// Tests for the CLI's key lookup, region choice and signed headers (checked against botocore).
#include "host/cli/request_signing.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace ember::cli {
namespace {

GetEnv env_of(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto found = vars.find(name);
    return found == vars.end() ? nullptr : found->second.c_str();
  };
}

class RequestSigningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-signing-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    home_ = tmpl;
    std::filesystem::create_directories(home_ + "/.aws");
    std::ofstream(home_ + "/.aws/credentials")
        << "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s-default\n"
           "[ci]\naws_access_key_id = AKIACI\naws_secret_access_key = s-ci\n";
  }
  void TearDown() override { std::filesystem::remove_all(home_); }
  std::string home_;
};

TEST_F(RequestSigningTest, TheEnvironmentBeatsTheCredentialsFile) {
  auto key = find_signing_key(env_of(
      {{"HOME", home_}, {"AWS_ACCESS_KEY_ID", "AKIAENV"}, {"AWS_SECRET_ACCESS_KEY", "s-env"}}));
  ASSERT_TRUE(key.ok()) << key.error().message();
  EXPECT_EQ(key->access_key_id, "AKIAENV");
  EXPECT_EQ(key->secret_access_key, "s-env");
}

TEST_F(RequestSigningTest, TheProfileComesFromAwsProfileElseDefault) {
  auto plain = find_signing_key(env_of({{"HOME", home_}}));
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_EQ(plain->access_key_id, "AKIADEFAULT");
  auto ci = find_signing_key(env_of({{"HOME", home_}, {"AWS_PROFILE", "ci"}}));
  ASSERT_TRUE(ci.ok()) << ci.error().message();
  EXPECT_EQ(ci->secret_access_key, "s-ci");
  auto absent = find_signing_key(env_of({{"HOME", home_}, {"AWS_PROFILE", "prod"}}));
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.error().message().find("has no profile [prod]"), std::string::npos);
}

TEST_F(RequestSigningTest, NoKeyAnywhereSaysHowToProvideOne) {
  auto none = find_signing_key(env_of({{"HOME", home_ + "/nowhere"}}));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("does not exist"), std::string::npos);
  EXPECT_NE(none.error().message().find("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
            std::string::npos);
}

TEST(RequestSigning, RegionFromTheFlagThenTheEnvironment) {
  EXPECT_EQ(signing_region("eu-west-1", env_of({{"AWS_REGION", "ap-south-1"}})), "eu-west-1");
  EXPECT_EQ(signing_region("", env_of({{"AWS_REGION", "ap-south-1"},
                                       {"AWS_DEFAULT_REGION", "us-west-2"}})),
            "ap-south-1");
  EXPECT_EQ(signing_region("", env_of({{"AWS_DEFAULT_REGION", "us-west-2"}})), "us-west-2");
  EXPECT_EQ(signing_region("", env_of({})), "us-east-1");
}

// botocore 1.43's SigV4Auth signs the same request (with the same X-Amz-Content-Sha256) to
// the same Authorization.
TEST(RequestSigning, SignsLikeBotocore) {
  HttpRequest request{"POST", "/2015-03-31/functions/hello/invocations?Qualifier=%24LATEST",
                      {{"Content-Type", "application/json"}}, R"({"name":"Ember"})"};
  const SigningKey key{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "test"};
  sign_request(request, "127.0.0.1:9000", key, "us-east-1", 1440938160);
  HttpResponse lookup;  // its case-insensitive header lookup
  lookup.headers = request.headers;
  ASSERT_NE(lookup.header("X-Amz-Date"), nullptr);
  EXPECT_EQ(*lookup.header("X-Amz-Date"), "20150830T123600Z");
  ASSERT_NE(lookup.header("Authorization"), nullptr);
  EXPECT_EQ(*lookup.header("Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, "
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=28927a903402ec59e4825b58c0a6ccd57901d90f2ec3a9812cab3b52173e7ac5");
}

}  // namespace
}  // namespace ember::cli
