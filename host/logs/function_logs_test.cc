// Tests for FunctionLogs: appends, offsets, rotation bounds, reading across files, removal.
#include "host/logs/function_logs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace ember::host {
namespace {

namespace fs = std::filesystem;

class FunctionLogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-logs-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  size_t file_count(const std::string& function) const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir_ + "/" + function)) ++n;
    return n;
  }

  std::string dir_;
};

TEST_F(FunctionLogsTest, ReadsFromAnOffsetAndReportsTheNext) {
  FunctionLogs logs(dir_);
  ASSERT_TRUE(logs.append("f", "one\n").ok());
  ASSERT_TRUE(logs.append("f", "two\n").ok());
  auto all = logs.read("f", 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->data, "one\ntwo\n");
  EXPECT_EQ(all->next_offset, 8u);
  auto tail = logs.read("f", 4);
  EXPECT_EQ(tail->data, "two\n");
  EXPECT_EQ(tail->start_offset, 4u);
  auto nothing_new = logs.read("f", 8);
  EXPECT_EQ(nothing_new->data, "");
  EXPECT_EQ(nothing_new->next_offset, 8u);
}

TEST_F(FunctionLogsTest, AFunctionWithoutLogsReadsEmpty) {
  FunctionLogs logs(dir_);
  auto chunk = logs.read("never", 0);
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->data, "");
  EXPECT_EQ(chunk->next_offset, 0u);
}

TEST_F(FunctionLogsTest, RotationKeepsTwoBoundedFilesAndContinuousOffsets) {
  FunctionLogs logs(dir_, 100);
  std::string written;
  for (int i = 0; i < 30; ++i) {
    const std::string line = "line " + std::to_string(i) + " of the log\n";  // 17-18 bytes
    ASSERT_TRUE(logs.append("f", line).ok());
    written += line;
    EXPECT_LE(file_count("f"), 2u);
  }
  for (const auto& entry : fs::directory_iterator(dir_ + "/f")) {
    EXPECT_LE(entry.file_size(), 100u);
  }
  // The oldest bytes are gone; what is left is the end of what was written.
  auto kept = logs.read("f", 0);
  ASSERT_TRUE(kept.ok());
  EXPECT_GT(kept->start_offset, 0u);
  EXPECT_EQ(kept->next_offset, written.size());
  EXPECT_EQ(kept->data, written.substr(kept->start_offset));
  // A follower that read up to some offset gets exactly the rest.
  const uint64_t middle = written.size() - 30;
  EXPECT_EQ(logs.read("f", middle)->data, written.substr(middle));
}

TEST_F(FunctionLogsTest, AnEntryLargerThanAFileKeepsItsEnd) {
  FunctionLogs logs(dir_, 10);
  ASSERT_TRUE(logs.append("f", "0123456789abcdef").ok());
  EXPECT_EQ(logs.read("f", 0)->data, "6789abcdef");
}

TEST_F(FunctionLogsTest, AnOffsetPastTheEndRestartsAtTheOldestByte) {
  FunctionLogs logs(dir_);
  ASSERT_TRUE(logs.append("f", "fresh\n").ok());
  auto chunk = logs.read("f", 1000);  // the log was deleted and began again
  EXPECT_EQ(chunk->data, "fresh\n");
  EXPECT_EQ(chunk->start_offset, 0u);
}

TEST_F(FunctionLogsTest, RemoveDeletesTheFunctionsLogs) {
  FunctionLogs logs(dir_);
  ASSERT_TRUE(logs.append("f", "x\n").ok());
  ASSERT_TRUE(logs.append("g", "y\n").ok());
  ASSERT_TRUE(logs.remove("f").ok());
  EXPECT_FALSE(fs::exists(dir_ + "/f"));
  EXPECT_EQ(logs.read("g", 0)->data, "y\n");
}

TEST_F(FunctionLogsTest, AFailedAppendIsReportedAndTheNextOneListsTheFilesAgain) {
  FunctionLogs logs(dir_, 100);
  ASSERT_TRUE(logs.append("f", "first\n").ok());
  // Its directory taken away behind its back: the append says so and writes nothing.
  fs::remove_all(dir_ + "/f");
  EXPECT_FALSE(logs.append("f", "lost\n").ok());
  // The next append starts the log again, from what the disk holds.
  ASSERT_TRUE(logs.append("f", "again\n").ok());
  auto chunk = logs.read("f", 0);
  EXPECT_EQ(chunk->data, "again\n");
  EXPECT_EQ(chunk->start_offset, 0u);
}

TEST_F(FunctionLogsTest, ANewFunctionLogsObjectContinuesTheFilesOnDisk) {
  {
    FunctionLogs logs(dir_, 20);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(logs.append("f", "0123456789\n").ok());  // 11 bytes
  }
  FunctionLogs again(dir_, 20);  // as after an emberd restart
  ASSERT_TRUE(again.append("f", "tail\n").ok());
  EXPECT_LE(file_count("f"), 2u);
  auto chunk = again.read("f", 0);
  EXPECT_EQ(chunk->next_offset, 5 * 11u + 5);
  EXPECT_EQ(chunk->data.substr(chunk->data.size() - 5), "tail\n");
}

}  // namespace
}  // namespace ember::host
