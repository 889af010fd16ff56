// Tests for Result<T>, EMBER_TRY and EMBER_CHECK.
#include "common/result.h"

#include <gtest/gtest.h>

namespace ember {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error("parse", "not positive: " + std::to_string(v));
  return v;
}

Result<int> doubled(int v) {
  EMBER_TRY(int x, parse_positive(v));
  return x * 2;
}

Status check(int v) {
  EMBER_CHECK(parse_positive(v));
  return {};
}

TEST(Result, PropagatesValuesAndErrors) {
  EXPECT_EQ(doubled(21).value(), 42);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "parse: not positive: -1");
  EXPECT_TRUE(check(1).ok());
  EXPECT_FALSE(check(0).ok());
}

TEST(Result, ErrnoErrorNamesTheSystemError) {
  errno = ENOENT;
  Error e = errno_error("open kernel", "/nope");
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_NE(e.message().find("No such file"), std::string::npos);
}

}  // namespace
}  // namespace ember
