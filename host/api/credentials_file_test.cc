// Tests for the AWS CLI credentials file parser and emberd's key table.
#include "host/api/credentials_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ember::host {
namespace {

TEST(CredentialsFile, ReadsEveryProfilesKey) {
  auto keys = parse_credentials(
      "# made by aws configure\n"
      "[default]\n"
      "aws_access_key_id = AKIAONE\n"
      "aws_secret_access_key=secret/one+\n"
      "region = eu-west-1\n"
      "\n"
      "; another\n"
      "[ci]\r\n"
      "  aws_access_key_id =AKIATWO  \r\n"
      "aws_secret_access_key = two\r\n"
      "[config-only]\n"
      "region = us-east-1\n",
      "test");
  ASSERT_TRUE(keys.ok()) << keys.error().message();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].profile, "default");
  EXPECT_EQ((*keys)[0].access_key_id, "AKIAONE");
  EXPECT_EQ((*keys)[0].secret_access_key, "secret/one+");
  EXPECT_EQ((*keys)[1].profile, "ci");
  EXPECT_EQ((*keys)[1].access_key_id, "AKIATWO");
  EXPECT_EQ((*keys)[1].secret_access_key, "two");
}

TEST(CredentialsFile, MalformedFilesAreErrorsWithTheLine) {
  auto no_section = parse_credentials("aws_access_key_id = A\n", "f");
  ASSERT_FALSE(no_section.ok());
  EXPECT_NE(no_section.error().message().find("f:1"), std::string::npos);
  EXPECT_NE(no_section.error().message().find("before any [profile]"), std::string::npos);
  auto garbage = parse_credentials("[p]\njust words\n", "f");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message().find("f:2"), std::string::npos);
  auto half = parse_credentials("[p]\naws_access_key_id = A\n[q]\n", "f");
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.error().message().find("profile [p] has aws_access_key_id but no "
                                        "aws_secret_access_key"),
            std::string::npos);
  EXPECT_FALSE(parse_credentials("[unclosed\n", "f").ok());
  EXPECT_FALSE(parse_credentials("[p]\naws_secret_access_key =\n", "f").ok());
}

class CredentialsFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-credentials-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& text) {
    const std::string path = dir_ + "/credentials";
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(CredentialsFileOnDisk, LoadsTheKeyTable) {
  auto keys = load_access_keys(write("[a]\naws_access_key_id=K1\naws_secret_access_key=S1\n"
                                     "[b]\naws_access_key_id=K2\naws_secret_access_key=S2\n"
                                     "[c]\naws_access_key_id=K1\naws_secret_access_key=S1\n"));
  ASSERT_TRUE(keys.ok()) << keys.error().message();
  EXPECT_EQ(*keys, (std::map<std::string, std::string>{{"K1", "S1"}, {"K2", "S2"}}));
}

TEST_F(CredentialsFileOnDisk, RefusesNoKeysAConflictAndAMissingFile) {
  auto empty = load_access_keys(write("# nothing\n[default]\nregion=us-east-1\n"));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message().find("no access keys in it"), std::string::npos);
  auto conflict = load_access_keys(write("[a]\naws_access_key_id=K\naws_secret_access_key=S1\n"
                                         "[b]\naws_access_key_id=K\naws_secret_access_key=S2\n"));
  ASSERT_FALSE(conflict.ok());
  EXPECT_NE(conflict.error().message().find("listed twice"), std::string::npos);
  EXPECT_EQ(conflict.error().message().find("S1"), std::string::npos);  // no secret in it
  auto missing = load_access_keys(dir_ + "/absent");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);
}

}  // namespace
}  // namespace ember::host
