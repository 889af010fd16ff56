// Tests for PagePrefetcher, over a plain file standing in for /dev/mem.
#include "guest-agent/page_prefetch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

namespace ember::agent {
namespace {

class PagePrefetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-prefetch-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path_ = tmpl;
    std::ofstream(path_) << std::string(16 * kWorkingSetPageSize, 'm');
  }
  void TearDown() override { ::unlink(path_.c_str()); }
  std::string path_;
};

TEST_F(PagePrefetcherTest, ReadsEveryPageOfEveryRun) {
  PagePrefetcher prefetcher(path_);
  prefetcher.start({{0, 3}, {10, 6}});
  EXPECT_EQ(prefetcher.wait(), 9u);
}

TEST_F(PagePrefetcherTest, StopsAtTheEndOfTheMemory) {
  PagePrefetcher prefetcher(path_);
  prefetcher.start({{14, 5}, {2, 1}});  // pages 16.. are past the end
  EXPECT_EQ(prefetcher.wait(), 2u);
}

TEST_F(PagePrefetcherTest, ANewStartReplacesTheRunningOne) {
  PagePrefetcher prefetcher(path_);
  prefetcher.start({{0, 16}});
  prefetcher.start({{4, 2}});
  EXPECT_EQ(prefetcher.wait(), 2u);
  prefetcher.start({});
  EXPECT_EQ(prefetcher.wait(), 0u);
}

TEST_F(PagePrefetcherTest, StoppedDuringItsStartDelayItReadsNothing) {
  PagePrefetcher prefetcher(path_);
  prefetcher.start({{0, 4}});
  const auto t0 = std::chrono::steady_clock::now();
  prefetcher.stop();  // as the first Invoke does
  EXPECT_LT(std::chrono::steady_clock::now() - t0, PagePrefetcher::kStartDelay);
  EXPECT_EQ(prefetcher.pages_read(), 0u);
  prefetcher.stop();  // none running: at once
}

TEST_F(PagePrefetcherTest, NoMemoryFileReadsNothing) {
  PagePrefetcher prefetcher(path_ + ".missing");
  prefetcher.start({{0, 4}});
  EXPECT_EQ(prefetcher.wait(), 0u);
}

TEST(PagePrefetcher, DestructionStopsALongPrefetchAtOnce) {
  // /dev/zero reads forever: only the stop request ends this run.
  const auto t0 = std::chrono::steady_clock::now();
  {
    PagePrefetcher prefetcher("/dev/zero");
    prefetcher.start({{0, uint64_t{1} << 40}});
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

}  // namespace
}  // namespace ember::agent
