// Tests of the working-set file, its recording from this process's own page tables, and its
// installation.
#include "common/working_set.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/guest_layout.h"
#include "common/unique_fd.h"

namespace ember {
namespace {

constexpr uint64_t kPage = kWorkingSetPageSize;

std::set<uint64_t> pages_of(const std::vector<PageRun>& runs, bool written) {
  std::set<uint64_t> pages;
  for (const PageRun& r : runs) {
    for (uint64_t p = r.first_page; p < r.first_page + r.pages && r.written == written; ++p) {
      pages.insert(p);
    }
  }
  return pages;
}

TEST(WorkingSetFile, RoundTrips) {
  std::vector<PageRun> runs = {{0, 3, false}, {3, 1, true}, {100, 28, false}};
  std::string text = encode_working_set(runs, 128);
  EXPECT_EQ(text, "ember-working-set 1 128\n0 3 r\n3 1 w\n100 28 r\n");
  auto decoded = decode_working_set(text, 128);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, runs);
  EXPECT_TRUE(decode_working_set("ember-working-set 1 5\n", 5).value().empty());
}

TEST(WorkingSetFile, RefusesWhatItWouldNotWrite) {
  const char* bad[] = {
      "",                                          // no header
      "ember-working-set 2 128\n",                 // another version
      "ember-working-set 1 64\n",                  // another memory size
      "ember-working-set 1 128\n0 3 r",            // unended line
      "ember-working-set 1 128\n0 3 x\n",          // unknown kind
      "ember-working-set 1 128\n0 r\n",            // missing count
      "ember-working-set 1 128\n0 0 r\n",          // empty run
      "ember-working-set 1 128\n5 2 r\n6 1 r\n",   // overlapping
      "ember-working-set 1 128\n9 1 r\n2 1 r\n",   // out of order
      "ember-working-set 1 128\n127 2 r\n",        // beyond the memory
      "ember-working-set 1 128\n128 1 r\n",        // starts beyond it
      "ember-working-set 1 128\n1 18446744073709551615 r\n",  // wraps around
      "ember-working-set 1 128\n-1 1 r\n",
  };
  for (const char* text : bad) {
    EXPECT_FALSE(decode_working_set(text, 128).ok()) << text;
  }
}

// A memory file mapped MAP_PRIVATE, as a restored VMM maps memory.bin.
class WorkingSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/ember-working-set-XXXXXX";
    fd_ = UniqueFd(::mkstemp(path));
    ASSERT_TRUE(fd_);
    ::unlink(path);
    ASSERT_EQ(::ftruncate(fd_.get(), kPages * kPage), 0);
    struct stat st = {};
    ASSERT_EQ(::fstat(fd_.get(), &st), 0);
    device_ = st.st_dev;
    inode_ = st.st_ino;
    map_ = static_cast<uint8_t*>(
        ::mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd_.get(), 0));
    ASSERT_NE(map_, MAP_FAILED);
  }
  void TearDown() override { ::munmap(map_, kPages * kPage); }
  uint8_t read_page(uint64_t page) { return *static_cast<volatile uint8_t*>(map_ + page * kPage); }

  static constexpr uint64_t kPages = 64;
  UniqueFd fd_;
  dev_t device_ = 0;
  ino_t inode_ = 0;
  uint8_t* map_ = nullptr;
};

TEST_F(WorkingSetTest, RecordsTheTouchedPagesAsReadOrWritten) {
  auto untouched = record_working_set(::getpid(), device_, inode_);
  ASSERT_TRUE(untouched.ok()) << untouched.error().message();
  EXPECT_TRUE(untouched->empty());

  for (uint64_t page : {3, 4, 5, 20}) (void)read_page(page);
  map_[6 * kPage] = 1;
  map_[7 * kPage + 100] = 2;
  auto runs = record_working_set(::getpid(), device_, inode_);
  ASSERT_TRUE(runs.ok()) << runs.error().message();
  // The kernel maps a read page's neighbours too (fault-around, 16 pages by default): the
  // pages read are among those recorded as read, the written ones are exactly those.
  std::set<uint64_t> read = pages_of(*runs, false);
  for (uint64_t page : {3, 4, 5, 20}) EXPECT_TRUE(read.count(page)) << page;
  EXPECT_EQ(pages_of(*runs, true), (std::set<uint64_t>{6, 7}));
  EXPECT_FALSE(read.count(6) || read.count(7));
  for (uint64_t page = 48; page < kPages; ++page) EXPECT_FALSE(read.count(page)) << page;
}

TEST_F(WorkingSetTest, AProcessWithoutTheFileIsAnError) {
  auto runs = record_working_set(::getpid(), device_, inode_ + 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_NE(runs.error().message().find("maps no memory file"), std::string::npos);
}

TEST_F(WorkingSetTest, InstallsRunsInsideTheMappedRangesOnly) {
  // The second half of the file mapped at map_ + 32 pages, as guest memory above the gap is.
  std::vector<MappedFileRange> ranges = {{map_, 0, 16 * kPage},
                                         {map_ + 32 * kPage, 32 * kPage, 32 * kPage}};
  std::vector<PageRun> runs = {{2, 3, false}, {10, 10, true}, {60, 4, false}};
  auto installed = install_working_set(ranges, runs);
  ASSERT_TRUE(installed.ok()) << installed.error().message();
  EXPECT_EQ(*installed, 3u + 6u + 4u);  // pages 16..19 of the second run are mapped nowhere
  auto recorded = record_working_set(::getpid(), device_, inode_);
  ASSERT_TRUE(recorded.ok()) << recorded.error().message();
  std::set<uint64_t> read = pages_of(*recorded, false);
  for (uint64_t page : {2, 3, 4, 60, 61, 62, 63}) EXPECT_TRUE(read.count(page)) << page;
  EXPECT_EQ(pages_of(*recorded, true), (std::set<uint64_t>{10, 11, 12, 13, 14, 15}));
}


TEST(GuestPageRuns, FilePagesMapAroundTheMmioGap) {
  constexpr uint64_t gap = kMmioGapStart / kWorkingSetPageSize;
  constexpr uint64_t hole = (kMmioGapEnd - kMmioGapStart) / kWorkingSetPageSize;
  const std::vector<PageRun> runs = {
      {0, 2, false}, {gap - 1, 3, true}, {gap + 5, 1, false}};
  const std::vector<GuestPageRun> want = {
      {0, 2}, {gap - 1, 1}, {gap + hole, 2}, {gap + hole + 5, 1}};
  EXPECT_EQ(guest_page_runs(runs), want);
}

TEST(GuestPageRuns, ASnapshotsWorkingSetOrNoneWhenItDoesNotFit) {
  char tmpl[] = "/tmp/ember-ws-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  EXPECT_TRUE(snapshot_guest_working_set(dir).empty());  // no memory.bin, no working set
  {
    std::ofstream memory(dir + "/memory.bin");
    memory << std::string(8 * kWorkingSetPageSize, '\0');
  }
  EXPECT_TRUE(snapshot_guest_working_set(dir).empty());  // no working set yet
  {
    std::ofstream ws(dir + "/" + kWorkingSetFile);
    ws << encode_working_set({{1, 2, false}, {5, 1, true}}, 8);
  }
  EXPECT_EQ(snapshot_guest_working_set(dir), (std::vector<GuestPageRun>{{1, 2}, {5, 1}}));
  {
    std::ofstream ws(dir + "/" + kWorkingSetFile);
    ws << encode_working_set({{1, 2, false}}, 16);  // made for another size
  }
  EXPECT_TRUE(snapshot_guest_working_set(dir).empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ember
