// Tests for HandlerThreads: every task runs, the most recently idle thread takes the next.
#include "host/api/handler_threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <set>
#include <thread>

namespace ember::host {
namespace {

using namespace std::chrono_literals;

void wait_all_idle(HandlerThreads& threads) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (threads.idle() != threads.size() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(threads.idle(), threads.size());
}

TEST(HandlerThreadsTest, RunsEveryTaskPosted) {
  std::atomic<int> ran{0};
  {
    HandlerThreads threads(4);
    for (int i = 0; i < 1000; ++i) threads.post([&ran] { ++ran; });
  }  // the destructor joins after running what was posted
  EXPECT_EQ(ran.load(), 1000);
}

TEST(HandlerThreadsTest, OneTaskAtATimeRunsOnOneThread) {
  HandlerThreads threads(8);
  std::set<std::thread::id> used;
  for (int i = 0; i < 20; ++i) {
    wait_all_idle(threads);
    std::promise<std::thread::id> ran_on;
    threads.post([&ran_on] { ran_on.set_value(std::this_thread::get_id()); });
    used.insert(ran_on.get_future().get());
  }
  EXPECT_EQ(used.size(), 1u);  // taken in turn, it would have been all 8
}

TEST(HandlerThreadsTest, BurstsOfThreeUseTheSameThreeThreads) {
  HandlerThreads threads(16);
  std::set<std::thread::id> used;
  std::mutex mu;
  for (int burst = 0; burst < 10; ++burst) {
    wait_all_idle(threads);
    std::latch all_running(3);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> done{0};
    for (int i = 0; i < 3; ++i) {
      threads.post([&, released] {
        {
          std::lock_guard lock(mu);
          used.insert(std::this_thread::get_id());
        }
        all_running.count_down();
        released.wait();
        ++done;
      });
    }
    all_running.wait();  // three at once: three threads
    release.set_value();
    while (done.load() < 3) std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(used.size(), 3u);
}

TEST(HandlerThreadsTest, TasksPostedWhileAllAreBusyWaitAndRunInOrder) {
  HandlerThreads threads(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::vector<int> order;
  std::mutex mu;
  threads.post([released] { released.wait(); });
  for (int i = 0; i < 5; ++i) {
    threads.post([&, i] {
      std::lock_guard lock(mu);
      order.push_back(i);
    });
  }
  release.set_value();
  threads.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  bool ran_late = false;
  threads.post([&ran_late] { ran_late = true; });  // after join: not run
  EXPECT_FALSE(ran_late);
}

}  // namespace
}  // namespace ember::host
