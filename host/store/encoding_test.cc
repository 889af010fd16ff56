// Tests for base64, hex and SHA-256.
#include "host/store/encoding.h"

#include <gtest/gtest.h>

#include "host/store/sha256.h"

namespace ember::host {
namespace {

TEST(Base64, RoundTripsEveryPaddingLength) {
  for (const std::string text : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    const std::string encoded = base64_encode(text);
    EXPECT_EQ(encoded.size() % 4, 0u);
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, text);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode(std::string("\xff\xfe", 2)), "//4=");
}

TEST(Base64, RefusesMalformedText) {
  EXPECT_FALSE(base64_decode("Zm9"));       // length not a multiple of 4
  EXPECT_FALSE(base64_decode("Zm9v!A=="));  // outside the alphabet
  EXPECT_FALSE(base64_decode("Zm=vYmFy"));  // '=' in the middle
  EXPECT_FALSE(base64_decode("Z==="));
}

TEST(Hex, EncodesAndDecodes) {
  EXPECT_EQ(hex_encode(std::string("\x00\xab\x10", 3)), "00ab10");
  EXPECT_EQ(*hex_decode("00AB10"), std::string("\x00\xab\x10", 3));
  EXPECT_FALSE(hex_decode("abc"));
  EXPECT_FALSE(hex_decode("zz"));
}

TEST(Sha256, MatchesTheKnownDigest) {
  EXPECT_EQ(hex_encode(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Lambda's CodeSha256 is this digest in base64.
  EXPECT_EQ(base64_encode(sha256("")), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

}  // namespace
}  // namespace ember::host
