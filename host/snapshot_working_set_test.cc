// Tests of recording a snapshot's working set, with this process as the "VMM" that maps its
// memory.bin.
#include "host/snapshot_working_set.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/unique_fd.h"
#include "common/working_set.h"

namespace ember::host {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kPages = 256;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class SnapshotWorkingSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ember-ws-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    UniqueFd fd(::open((dir_ + "/memory.bin").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::ftruncate(fd.get(), kPages * kWorkingSetPageSize), 0);
    map_ = static_cast<uint8_t*>(::mmap(nullptr, kPages * kWorkingSetPageSize,
                                        PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0));
    ASSERT_NE(map_, MAP_FAILED);
  }
  void TearDown() override {
    ::munmap(map_, kPages * kWorkingSetPageSize);
    fs::remove_all(dir_);
  }
  std::string dir_;
  uint8_t* map_ = nullptr;
};

TEST_F(SnapshotWorkingSetTest, WritesTheTouchedPagesOnceBesideTheMemory) {
  map_[200 * kWorkingSetPageSize] = 1;  // written: exactly this page
  auto pages = record_snapshot_working_set(::getpid(), dir_);
  ASSERT_TRUE(pages.ok()) << pages.error().message();
  EXPECT_EQ(*pages, 1u);
  auto runs = decode_working_set(slurp(dir_ + "/working_set"), kPages);
  ASSERT_TRUE(runs.ok()) << runs.error().message();
  EXPECT_EQ(*runs, (std::vector<PageRun>{{200, 1, true}}));
  EXPECT_EQ(fs::status(dir_ + "/working_set").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);

  map_[10 * kWorkingSetPageSize] = 1;
  auto again = record_snapshot_working_set(::getpid(), dir_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);  // one is there: kept as it is
  EXPECT_EQ(decode_working_set(slurp(dir_ + "/working_set"), kPages).value().size(), 1u);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST_F(SnapshotWorkingSetTest, AProcessNotRestoredFromItIsAnError) {
  fs::remove(dir_ + "/memory.bin");
  std::ofstream(dir_ + "/memory.bin") << "another file";
  auto pages = record_snapshot_working_set(::getpid(), dir_);
  ASSERT_FALSE(pages.ok());
  EXPECT_FALSE(fs::exists(dir_ + "/working_set"));
}

}  // namespace
}  // namespace ember::host
