// Tests for check_zip: good packages pass; each kind of bad package is refused by name.
#include "host/store/zip_check.h"

#include <gtest/gtest.h>

#include "host/store/test_zip.h"

namespace ember::host {
namespace {

using Kind = TestZipEntry::Kind;

std::string refusal(const std::string& zip, const ZipLimits& limits = {}) {
  auto checked = check_zip(zip, limits);
  if (checked.ok()) return "accepted";
  return checked.error().context;
}

TEST(CheckZip, AcceptsFilesDirectoriesAndInsideSymlinks) {
  const std::string zip = make_zip({
      {.path = "bootstrap", .data = "#!/bin/sh\n", .mode = 0755},
      {.path = "lib/", .kind = Kind::kDirectory, .mode = 0755},
      {.path = "lib/helper.py", .data = "x = 1\n"},
      {.path = "lib/link", .kind = Kind::kSymlink, .target = "../bootstrap"},
      {.path = "./dot/handler.py", .data = "pass\n"},
  });
  auto checked = check_zip(zip);
  ASSERT_TRUE(checked.ok()) << checked.error().message();
  EXPECT_EQ(checked->entries, 5u);
  EXPECT_EQ(checked->unzipped_bytes, 10u + 6u + 5u);
}

TEST(CheckZip, RefusesWhatIsNotAZip) {
  EXPECT_NE(refusal("this is not a zip").find("Could not unzip"), std::string::npos);
  EXPECT_NE(refusal("").find("Could not unzip"), std::string::npos);
  std::string truncated = hello_zip();
  truncated.resize(truncated.size() / 2);
  EXPECT_NE(refusal(truncated), "accepted");
}

TEST(CheckZip, RefusesADamagedEntryLibarchiveGivesNoMessageFor) {
  // Found by fuzz/zip_fuzz.cc: libarchive reports this failure without an error string.
  static const unsigned char kDamaged[] = {
      0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x08, 0x00, 0x08, 0x00, 0xaa, 0xb1,
      0x6e, 0x57, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x04, 0x00, 0x18, 0x00, 0x70, 0x69, 0x70, 0x65, 0x55, 0x54,
      0x05, 0x00, 0x01, 0x00, 0xf1, 0x53, 0x65, 0x75, 0x78, 0x0b, 0x00, 0x01,
      0x04, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00,
      0x50, 0x4b, 0x07, 0x08, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x02, 0x14, 0x03, 0x14, 0x00,
      0x08, 0x00, 0x08, 0x00, 0xaa, 0xb1, 0x6e, 0x57, 0x00, 0x00, 0x00, 0x00,
      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x18, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa4, 0x00, 0x00, 0x11, 0x00, 0x00,
      0x00, 0x00, 0x70, 0x69, 0x70, 0x65, 0x55, 0x54, 0x05, 0x00, 0x01, 0x00,
      0xf1, 0x53, 0x65, 0x75, 0x78, 0x0b, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x50, 0x41, 0x05, 0x06, 0x00, 0x00,
      0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0xbf, 0x00, 0x00, 0x00, 0x4c, 0x00,
      0x00, 0x00, 0x00, 0x00,
  };
  const std::string zip(reinterpret_cast<const char*>(kDamaged), sizeof(kDamaged));
  EXPECT_NE(refusal(zip).find("Could not unzip"), std::string::npos);
}

TEST(CheckZip, RefusesPathsThatLeaveTheRoot) {
  EXPECT_NE(refusal(make_zip({{.path = "../evil", .data = "x"}})).find("'../evil'"),
            std::string::npos);
  EXPECT_NE(refusal(make_zip({{.path = "a/../../evil", .data = "x"}})).find("must stay inside"),
            std::string::npos);
  EXPECT_NE(refusal(make_zip({{.path = "/etc/passwd", .data = "x"}})).find("absolute"),
            std::string::npos);
}

TEST(CheckZip, RefusesSymlinksOutOfTheRoot) {
  EXPECT_NE(refusal(make_zip({{.path = "l", .kind = Kind::kSymlink, .target = "/etc/passwd"}}))
                .find("Symlink 'l'"),
            std::string::npos);
  EXPECT_NE(refusal(make_zip({{.path = "d/l", .kind = Kind::kSymlink, .target = "../../x"}})),
            "accepted");
  EXPECT_EQ(refusal(make_zip({{.path = "d/l", .kind = Kind::kSymlink, .target = "../x"}})),
            "accepted");
}

TEST(CheckZip, SpecialFilesArriveAsPlainFiles) {
  // libarchive's zip reader types anything but directories and symlinks as a regular file,
  // so a pipe or device in a zip becomes an empty file, never a special one. (check_zip
  // still refuses other types, should a reader ever pass them through.)
  const std::string zip = make_zip({{.path = "fifo", .kind = Kind::kFifo}});
  ASSERT_NE(zip.find(std::string("PK\x01\x02", 4)), std::string::npos);
  EXPECT_EQ(refusal(zip), "accepted");
}

TEST(CheckZip, EnforcesTheLimits) {
  ZipLimits small;
  small.max_unzipped_bytes = 1000;
  small.max_entries = 3;
  small.max_zipped_bytes = 100000;
  // The declared size is not trusted: the data is decompressed and counted.
  EXPECT_NE(refusal(make_zip({{.path = "big", .zeros = 1001}}), small)
                .find("Unzipped size must be smaller than 1000 bytes"),
            std::string::npos);
  EXPECT_EQ(refusal(make_zip({{.path = "fits", .zeros = 1000}}), small), "accepted");
  EXPECT_NE(refusal(make_zip({{.path = "a"}, {.path = "b"}, {.path = "c"}, {.path = "d"}}), small)
                .find("more than 3 entries"),
            std::string::npos);
  EXPECT_NE(refusal(std::string(100001, 'x'), small).find("Zipped size must be smaller"),
            std::string::npos);
}

TEST(CheckZip, DefaultLimitsAreLambdas) {
  const ZipLimits limits;
  EXPECT_EQ(limits.max_zipped_bytes, 52428800u);
  EXPECT_EQ(limits.max_unzipped_bytes, 262144000u);
}

TEST(CheckZip, RefusesAZipBombPastTheDefaultLimit) {
  // 250 MiB + 1 byte of zeros compresses to a few hundred KB.
  const std::string bomb = make_zip({{.path = "zeros", .zeros = 262144001}});
  ASSERT_LT(bomb.size(), 2u * 1024 * 1024);
  EXPECT_NE(refusal(bomb).find("Unzipped size"), std::string::npos);
}

}  // namespace
}  // namespace ember::host
