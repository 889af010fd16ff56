// Tests for zip_directory: unzipped again with libarchive, paths, modes, links and data match.
#include "host/cli/zip_directory.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace ember::cli {
namespace {

struct Unzipped {
  mode_t type = 0;  // AE_IFREG, AE_IFDIR, AE_IFLNK
  mode_t perm = 0;
  std::string data;     // regular files
  std::string symlink;  // links
};

// Reads every entry of a zip in memory with libarchive.
std::map<std::string, Unzipped> unzip(const std::string& zip) {
  std::map<std::string, Unzipped> entries;
  archive* a = archive_read_new();
  archive_read_support_format_zip(a);
  EXPECT_EQ(archive_read_open_memory(a, zip.data(), zip.size()), ARCHIVE_OK)
      << archive_error_string(a);
  archive_entry* entry;
  while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
    Unzipped u;
    u.type = archive_entry_filetype(entry);
    u.perm = archive_entry_perm(entry);
    if (const char* target = archive_entry_symlink(entry)) u.symlink = target;
    char buffer[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buffer, sizeof(buffer))) > 0) {
      u.data.append(buffer, static_cast<size_t>(n));
    }
    entries[archive_entry_pathname(entry)] = u;
  }
  archive_read_free(a);
  return entries;
}

class ZipDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-zip-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& relative, const std::string& data, mode_t mode) {
    const std::string path = dir_ + "/" + relative;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << data;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }

  std::string dir_;
};

TEST_F(ZipDirectoryTest, KeepsPathsModesLinksAndData) {
  std::string big(300 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7919 % 251);
  write("app.py", "def handler(event, context):\n    return event\n", 0644);
  write("bootstrap", "#!/bin/sh\nexec python3 app.py\n", 0755);
  write("lib/data.bin", big, 0600);
  ASSERT_EQ(::symlink("app.py", (dir_ + "/link.py").c_str()), 0);
  ASSERT_EQ(::symlink("../outside/target", (dir_ + "/lib/dangling").c_str()), 0);
  std::filesystem::create_directory(dir_ + "/empty");

  auto zip = zip_directory(dir_);
  ASSERT_TRUE(zip.ok()) << zip.error().message();
  ASSERT_GE(zip->size(), 4u);
  EXPECT_EQ(zip->substr(0, 4), std::string("PK\3\4"));
  EXPECT_LT(zip->size(), big.size());  // deflated

  auto entries = unzip(*zip);
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"app.py", "bootstrap", "empty/", "lib/",
                                             "lib/dangling", "lib/data.bin", "link.py"}));
  EXPECT_EQ(entries["app.py"].type, mode_t(AE_IFREG));
  EXPECT_EQ(entries["app.py"].perm, 0644u);
  EXPECT_EQ(entries["app.py"].data, "def handler(event, context):\n    return event\n");
  EXPECT_EQ(entries["bootstrap"].perm, 0755u);  // the exec bit survives
  EXPECT_EQ(entries["lib/data.bin"].perm, 0600u);
  EXPECT_EQ(entries["lib/data.bin"].data, big);
  EXPECT_EQ(entries["empty/"].type, mode_t(AE_IFDIR));
  EXPECT_EQ(entries["link.py"].type, mode_t(AE_IFLNK));  // stored as a link, not a copy
  EXPECT_EQ(entries["link.py"].symlink, "app.py");
  EXPECT_EQ(entries["lib/dangling"].type, mode_t(AE_IFLNK));
  EXPECT_EQ(entries["lib/dangling"].symlink, "../outside/target");
}

TEST_F(ZipDirectoryTest, AnEmptyDirectoryGivesAnEmptyZip) {
  auto zip = zip_directory(dir_);
  ASSERT_TRUE(zip.ok()) << zip.error().message();
  EXPECT_TRUE(unzip(*zip).empty());
}

TEST_F(ZipDirectoryTest, RefusesWhatIsNotADirectoryOrNotStorable) {
  write("file", "x", 0644);
  EXPECT_FALSE(zip_directory(dir_ + "/file").ok());
  EXPECT_FALSE(zip_directory(dir_ + "/missing").ok());
  ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0644), 0);
  auto zip = zip_directory(dir_);
  ASSERT_FALSE(zip.ok());
  EXPECT_NE(zip.error().message().find("fifo"), std::string::npos);
}

TEST_F(ZipDirectoryTest, ReadsOnlyZipFiles) {
  auto made = zip_directory(dir_);
  ASSERT_TRUE(made.ok());
  write("code.zip", *made, 0644);
  auto read = read_zip_file(dir_ + "/code.zip");
  ASSERT_TRUE(read.ok()) << read.error().message();
  EXPECT_EQ(*read, *made);
  write("code.tar", "not a zip at all", 0644);
  EXPECT_FALSE(read_zip_file(dir_ + "/code.tar").ok());
  EXPECT_FALSE(read_zip_file(dir_ + "/missing.zip").ok());
}

}  // namespace
}  // namespace ember::cli
