// Tests for Router: literal and {param} segments, decoding, trailing slashes, methods.
#include "host/api/router.h"

#include <gtest/gtest.h>

namespace ember::host {
namespace {

HttpResponse tagged(int status) {
  HttpResponse response;
  response.status = status;
  return response;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add("GET", "/2015-03-31/functions",
                [](const HttpRequest&, const RouteParams&) { return tagged(1); });
    router_.add("GET", "/2015-03-31/functions/{name}",
                [](const HttpRequest&, const RouteParams&) { return tagged(2); });
    router_.add("POST", "/2015-03-31/functions/{name}/invocations",
                [](const HttpRequest&, const RouteParams&) { return tagged(3); });
  }
  int status_of(const Router::Match& match) {
    return match.handler ? (*match.handler)(HttpRequest{}, match.params).status : 0;
  }
  Router router_;
};

TEST_F(RouterTest, MatchesLiteralsAndParams) {
  EXPECT_EQ(status_of(router_.match("GET", "/2015-03-31/functions")), 1);
  EXPECT_EQ(status_of(router_.match("GET", "/2015-03-31/functions/")), 1);  // boto3's form
  auto match = router_.match("POST", "/2015-03-31/functions/my-fn/invocations");
  EXPECT_EQ(status_of(match), 3);
  EXPECT_EQ(match.params.at("name"), "my-fn");
}

TEST_F(RouterTest, DecodesParams) {
  auto match = router_.match("GET",
                             "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A"
                             "000000000000%3Afunction%3Af");
  ASSERT_NE(match.handler, nullptr);
  EXPECT_EQ(match.params.at("name"), "arn:aws:lambda:us-east-1:000000000000:function:f");
  EXPECT_EQ(router_.match("GET", "/2015-03-31/functions/a%2Fb").params.at("name"), "a/b");
}

TEST_F(RouterTest, KnownPathWithAnotherMethodIsFlagged) {
  auto match = router_.match("DELETE", "/2015-03-31/functions/x/invocations");
  EXPECT_EQ(match.handler, nullptr);
  EXPECT_TRUE(match.path_known);
}

TEST_F(RouterTest, UnknownPathsDoNotMatch) {
  for (const char* path : {"/", "", "nope", "/2015-03-31", "/2015-03-31/functions/a/b",
                           "/2015-03-31//functions", "/2015-03-31/functions/x/invocations/y"}) {
    auto match = router_.match("GET", path);
    EXPECT_EQ(match.handler, nullptr) << path;
    EXPECT_FALSE(match.path_known) << path;
  }
}

TEST(RouterGreedy, TheLastParamTakesTheRestOfThePath) {
  Router router;
  router.add("GET", "/u/{id}/{path+}", [](const HttpRequest&, const RouteParams&) {
    return tagged(7);
  });
  auto deep = router.match("GET", "/u/abc/x/y%20z/");
  ASSERT_NE(deep.handler, nullptr);
  EXPECT_EQ(deep.params.at("id"), "abc");
  EXPECT_EQ(deep.params.at("path"), "x/y%20z");  // as sent
  auto bare = router.match("GET", "/u/abc");
  ASSERT_NE(bare.handler, nullptr);
  EXPECT_EQ(bare.params.at("path"), "");
  EXPECT_EQ(router.match("GET", "/u").handler, nullptr);
  EXPECT_EQ(router.match("GET", "/v/abc/x").handler, nullptr);
}

TEST(SplitTarget, DecodesTheQuery) {
  std::string path;
  std::map<std::string, std::string> query;
  split_target("/a/b?Qualifier=%24LATEST&MaxItems=2&flag&x=a+b", path, query);
  EXPECT_EQ(path, "/a/b");
  EXPECT_EQ(query.at("Qualifier"), "$LATEST");
  EXPECT_EQ(query.at("MaxItems"), "2");
  EXPECT_EQ(query.at("flag"), "");
  EXPECT_EQ(query.at("x"), "a b");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");  // malformed escapes stay
}

}  // namespace
}  // namespace ember::host
