// Tests for ChildReaper: statuses reach their spawner, and orphans are reaped like PID 1 does.
#include "guest-agent/child_reaper.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace ember::agent {
namespace {

int wait_status(ChildReaper& reaper, const ChildReaper::Child& child) {
  pollfd p = {child.exit_fd.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 5000), 1);
  auto status = reaper.take_status(child.pid);
  EXPECT_TRUE(status.has_value());
  return status.value_or(-1);
}

bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST(ChildReaper, SpawnerGetsTheExitStatus) {
  ChildReaper reaper;
  auto child = reaper.spawn([] { ::_exit(42); });
  ASSERT_TRUE(child.ok());
  int status = wait_status(reaper, *child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42);
  EXPECT_FALSE(reaper.take_status(child->pid).has_value());  // taken once
}

TEST(ChildReaper, ReapsChildrenNobodyRegistered) {
  // As PID 1 inherits orphans: make this process their reaper for the test.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  ChildReaper reaper;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  // The registered child leaves a grandchild behind and tells us its pid.
  auto child = reaper.spawn([&] {
    pid_t grandchild = ::fork();
    if (grandchild == 0) {
      ::usleep(200'000);
      ::_exit(0);
    }
    [[maybe_unused]] ssize_t n = ::write(fds[1], &grandchild, sizeof grandchild);
    ::_exit(0);
  });
  ASSERT_TRUE(child.ok());
  ::close(fds[1]);
  pid_t orphan = -1;
  ASSERT_EQ(::read(fds[0], &orphan, sizeof orphan), static_cast<ssize_t>(sizeof orphan));
  ::close(fds[0]);
  EXPECT_EQ(wait_status(reaper, *child), 0);
  EXPECT_TRUE(gone_within(orphan, std::chrono::seconds(3)));  // not left as a zombie
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST(ChildReaper, ForgottenChildrenAreStillReaped) {
  ChildReaper reaper;
  auto child = reaper.spawn([] {
    ::usleep(50'000);
    ::_exit(1);
  });
  ASSERT_TRUE(child.ok());
  reaper.forget(child->pid);
  EXPECT_TRUE(gone_within(child->pid, std::chrono::seconds(3)));
}

TEST(ChildReaper, StopsWhileChildrenStillRun) {
  pid_t pid;
  {
    ChildReaper reaper;
    auto child = reaper.spawn([] {
      ::pause();
      ::_exit(0);
    });
    ASSERT_TRUE(child.ok());
    pid = child->pid;
  }  // must not hang in waitpid
  ::kill(pid, SIGKILL);
  EXPECT_EQ(::waitpid(pid, nullptr, 0), pid);
}

}  // namespace
}  // namespace ember::agent
