// Tests for the Refresh handling: replies, failure naming, the record, and unprivileged use.
#include "guest-agent/refresh.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace ember::agent {
namespace {

struct Calls {
  std::string entropy;
  uint64_t clock = 0;
  int count = 0;
};

RefreshActions fake_actions(Calls& calls, bool rng_ok = true, bool clock_ok = true) {
  return {[&calls, rng_ok](std::string_view e) -> Status {
            calls.entropy = std::string(e);
            ++calls.count;
            return rng_ok ? Status() : Status(make_error("rng", "broken"));
          },
          [&calls, clock_ok](uint64_t ns) -> Status {
            calls.clock = ns;
            ++calls.count;
            return clock_ok ? Status() : Status(make_error("clock", "stuck"));
          }};
}

const Refresh kRefresh{std::string("\x00\xff\x10", 3), 1'700'000'000'000'000'001ull};

TEST(Refresh, ModesParse) {
  EXPECT_EQ(parse_refresh_mode("system").value(), RefreshMode::kSystem);
  EXPECT_EQ(parse_refresh_mode("skip").value(), RefreshMode::kSkip);
  EXPECT_EQ(parse_refresh_mode("fail-rng").value(), RefreshMode::kFailRng);
  EXPECT_EQ(parse_refresh_mode("fail-clock").value(), RefreshMode::kFailClock);
  auto bad = parse_refresh_mode("sometimes");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("'sometimes'"), std::string::npos);
}

TEST(Refresh, BothActionsRunWithTheMessageFields) {
  Calls calls;
  AgentMessage reply = handle_refresh(kRefresh, fake_actions(calls));
  EXPECT_TRUE(std::holds_alternative<RefreshAck>(reply));
  EXPECT_EQ(calls.count, 2);
  EXPECT_EQ(calls.entropy, kRefresh.entropy);
  EXPECT_EQ(calls.clock, kRefresh.unix_time_ns);
}

TEST(Refresh, FailuresAreNamedAndTheClockIsStillSet) {
  Calls calls;
  AgentMessage rng = handle_refresh(kRefresh, fake_actions(calls, false, true));
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(rng));
  const std::string& m = std::get<ErrorReply>(rng).message;
  EXPECT_NE(m.find("entropy not added: rng: broken"), std::string::npos) << m;
  EXPECT_EQ(m.find("clock"), std::string::npos) << m;
  EXPECT_EQ(calls.clock, kRefresh.unix_time_ns);  // one failure does not skip the other

  AgentMessage clock = handle_refresh(kRefresh, fake_actions(calls, true, false));
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(clock));
  EXPECT_NE(std::get<ErrorReply>(clock).message.find("clock not set: clock: stuck"),
            std::string::npos);

  AgentMessage both = handle_refresh(kRefresh, fake_actions(calls, false, false));
  const std::string& b = std::get<ErrorReply>(both).message;
  EXPECT_NE(b.find("entropy not added"), std::string::npos) << b;
  EXPECT_NE(b.find("clock not set"), std::string::npos) << b;
}

TEST(Refresh, InjectedFailureModes) {
  auto rng = handle_refresh(kRefresh, refresh_actions(RefreshMode::kFailRng));
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(rng));
  EXPECT_NE(std::get<ErrorReply>(rng).message.find("RNDADDENTROPY"), std::string::npos);
  auto clock = handle_refresh(kRefresh, refresh_actions(RefreshMode::kFailClock));
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(clock));
  EXPECT_NE(std::get<ErrorReply>(clock).message.find("clock_settime"), std::string::npos);
  EXPECT_TRUE(std::holds_alternative<RefreshAck>(
      handle_refresh(kRefresh, refresh_actions(RefreshMode::kSkip))));
}

TEST(Refresh, WithoutActionsTheReplyIsAnError) {
  auto reply = handle_refresh(kRefresh, RefreshActions{});
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(reply));
  EXPECT_NE(std::get<ErrorReply>(reply).message.find("no refresh actions"), std::string::npos);
}

TEST(Refresh, RecordGetsOneLinePerRefresh) {
  char tmpl[] = "/tmp/ember-refresh-test-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  RefreshActions actions = refresh_actions(RefreshMode::kSkip, tmpl);
  ASSERT_TRUE(std::holds_alternative<RefreshAck>(handle_refresh(kRefresh, actions)));
  ASSERT_TRUE(std::holds_alternative<RefreshAck>(handle_refresh(Refresh{"A", 7}, actions)));
  std::ifstream in(tmpl);
  std::stringstream text;
  text << in.rdbuf();
  ::unlink(tmpl);
  EXPECT_EQ(text.str(),
            "entropy=00ff10 unix_time_ns=1700000000000000001 prefetch_pages=0\n"
            "entropy=41 unix_time_ns=7 prefetch_pages=0\n");
}

TEST(Refresh, OversizedEntropyIsRefusedBeforeAnyIoctl) {
  Status s = add_kernel_entropy(std::string(kMaxRefreshEntropy + 1, 'x'));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("over the limit"), std::string::npos);
}

// Without privileges both system actions fail with EPERM and name the failed call. Run in
// a child that gives up root, so the test never touches this machine's RNG or clock.
TEST(Refresh, SystemActionsNeedPrivilege) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 && ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
    Status rng = add_kernel_entropy(std::string(kRefreshEntropyBytes, 'r'));
    Status clock = set_realtime_clock(1);
    std::string out = (rng.ok() ? std::string("rng ok") : rng.error().message()) + "\n" +
                      (clock.ok() ? std::string("clock ok") : clock.error().message());
    [[maybe_unused]] ssize_t n = ::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(out.find("ioctl RNDADDENTROPY: /dev/urandom: Operation not permitted"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("clock_settime(CLOCK_REALTIME): 1 ns: Operation not permitted"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace ember::agent
