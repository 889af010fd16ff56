// Tests for Lambda's error documents: exit wording, JSON quoting, posted error types.
#include "guest-agent/lambda_error.h"

#include <gtest/gtest.h>

namespace ember::agent {
namespace {

TEST(LambdaError, ExitsAreDescribedInLambdasWords) {
  EXPECT_EQ(describe_exit({2, 0, false}), "Runtime exited with error: exit status 2");
  EXPECT_EQ(describe_exit({0, 0, false}), "Runtime exited without providing a reason");
  EXPECT_EQ(describe_exit({-1, 9, true}), "Runtime exited with error: signal: killed");
  EXPECT_EQ(describe_exit({-1, 11, false}),
            "Runtime exited with error: signal: segmentation fault");
  EXPECT_STREQ(exit_error_type({-1, 9, true}), "Runtime.OutOfMemory");
  EXPECT_STREQ(exit_error_type({-1, 9, false}), "Runtime.ExitError");
}

TEST(LambdaError, JsonQuotingEscapesWhatMustBe) {
  EXPECT_EQ(json_quote("plain"), "\"plain\"");
  EXPECT_EQ(json_quote("a\"b\\c\nd\te\x01"), R"("a\"b\\c\nd\te\u0001")");
  EXPECT_EQ(json_quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 passes through
  EXPECT_EQ(lambda_error_json("T", "m \"q\""), R"({"errorMessage":"m \"q\"","errorType":"T"})");
}

TEST(LambdaError, PostedErrorTypeComesFromTheHeaderThenTheBody) {
  EXPECT_EQ(posted_error_type("Runtime.X", R"({"errorType":"Body"})"), "Runtime.X");
  EXPECT_EQ(posted_error_type(std::nullopt, R"({"errorType":"Body","x":[1]})"), "Body");
  EXPECT_EQ(posted_error_type("", R"({"errorType":"Body"})"), "Body");
  EXPECT_EQ(posted_error_type(std::nullopt, "not json"), "Unhandled");
  EXPECT_EQ(posted_error_type(std::nullopt, R"({"errorType":7})"), "Unhandled");
  EXPECT_EQ(posted_error_type(std::nullopt, R"(["errorType"])"), "Unhandled");
}

}  // namespace
}  // namespace ember::agent
