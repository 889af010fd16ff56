// Tests for EventLoop: dispatch, removal during a batch, stop from another thread.
#include "vmm/event_loop.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <chrono>
#include <thread>

namespace ember::vmm {
namespace {

UniqueFd make_eventfd() { return UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)); }

void signal(const UniqueFd& fd) {
  const uint64_t one = 1;
  ASSERT_EQ(::write(fd.get(), &one, sizeof(one)), 8);
}

void consume(int fd) {
  uint64_t v = 0;
  (void)!::read(fd, &v, sizeof(v));
}

TEST(EventLoopTest, DispatchesReadyFdsOnly) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  UniqueFd a = make_eventfd(), b = make_eventfd();
  int a_calls = 0, b_calls = 0;
  ASSERT_TRUE(loop->add(a.get(), EPOLLIN, [&](uint32_t) { ++a_calls, consume(a.get()); }).ok());
  ASSERT_TRUE(loop->add(b.get(), EPOLLIN, [&](uint32_t) { ++b_calls, consume(b.get()); }).ok());
  EXPECT_FALSE(loop->add(a.get(), EPOLLIN, [](uint32_t) {}).ok()) << "duplicate fd accepted";
  signal(a);
  auto n = loop->run_once(0);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(a_calls, 1);
  EXPECT_EQ(b_calls, 0);
  EXPECT_EQ(loop->run_once(0).value(), 0);
}

TEST(EventLoopTest, RemovedInSameBatchIsNotCalled) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  UniqueFd a = make_eventfd(), b = make_eventfd();
  int calls = 0;
  // Whichever runs first removes the other; exactly one handler may run.
  ASSERT_TRUE(loop->add(a.get(), EPOLLIN, [&](uint32_t) { ++calls, loop->remove(b.get()); }).ok());
  ASSERT_TRUE(loop->add(b.get(), EPOLLIN, [&](uint32_t) { ++calls, loop->remove(a.get()); }).ok());
  signal(a);
  signal(b);
  ASSERT_TRUE(loop->run_once(0).ok());
  EXPECT_EQ(calls, 1);
}

TEST(EventLoopTest, HandlerMayRemoveItselfAndModify) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  UniqueFd a = make_eventfd();
  int calls = 0;
  ASSERT_TRUE(loop->add(a.get(), EPOLLIN,
                        [&](uint32_t) {
                          ++calls;
                          loop->remove(a.get());
                        })
                  .ok());
  signal(a);
  ASSERT_TRUE(loop->run_once(0).ok());
  EXPECT_FALSE(loop->contains(a.get()));
  ASSERT_TRUE(loop->run_once(0).ok());
  EXPECT_EQ(calls, 1);

  UniqueFd b = make_eventfd();
  signal(b);
  ASSERT_TRUE(loop->add(b.get(), 0, [&](uint32_t) { ++calls; }).ok());
  EXPECT_EQ(loop->run_once(0).value(), 0) << "fd with no interest dispatched";
  ASSERT_TRUE(loop->modify(b.get(), EPOLLIN).ok());
  EXPECT_EQ(loop->run_once(0).value(), 1);
  EXPECT_FALSE(loop->modify(a.get(), EPOLLIN).ok());
}

TEST(EventLoopTest, StopFromAnotherThread) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    loop->stop();
  });
  const auto start = std::chrono::steady_clock::now();
  Status s = loop->run();
  stopper.join();
  EXPECT_TRUE(s.ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
  // A stop before run() is remembered, not lost.
  loop->stop();
  EXPECT_TRUE(loop->run().ok());
}

}  // namespace
}  // namespace ember::vmm
