// Tests for run_exec on the host: status, streams, stdin, caps, timeouts and failures.
#include "guest-agent/exec_runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace ember::agent {
namespace {

class ExecRunnerTest : public ::testing::Test {
 protected:
  // As in the agent: a process that stops reading stdin must not kill us with SIGPIPE.
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
  ExecResult run(ExecRequest request) {
    auto r = run_exec(reaper_, request);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? r.value() : ExecResult{};
  }
  static ExecRequest sh(const std::string& script) {
    ExecRequest r;
    r.argv = {"sh", "-c", script};
    return r;
  }
  ChildReaper reaper_;
};

TEST_F(ExecRunnerTest, ExitCodeAndBothStreams) {
  ExecResult r = run(sh("echo out; echo err >&2; exit 7"));
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.stdout_data, "out\n");
  EXPECT_EQ(r.stderr_data, "err\n");
  EXPECT_GT(r.duration_ns, 0u);
}

TEST_F(ExecRunnerTest, EnvAndCwdAreExactlyTheRequested) {
  ExecRequest req = sh("pwd; echo \"$FOO\"; env | grep -c . ; echo $PATH");
  req.env = {"FOO=bar baz"};
  req.cwd = "/usr";
  ExecResult r = run(req);
  EXPECT_EQ(r.stdout_data,
            std::string("/usr\nbar baz\n") + "3\n" + kDefaultPath + "\n");  // FOO, PATH, PWD
}

TEST_F(ExecRunnerTest, MegabyteOfStdinRoundTripsThroughCat) {
  ExecRequest req;
  req.argv = {"cat"};
  req.stdin_data.resize(1 << 20);
  for (size_t i = 0; i < req.stdin_data.size(); ++i) req.stdin_data[i] = char(i * 7 + i / 251);
  req.output_cap = 2 << 20;
  ExecResult r = run(req);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.stdout_truncated);
  EXPECT_TRUE(r.stdout_data == req.stdin_data);
}

TEST_F(ExecRunnerTest, OutputBeyondTheCapIsDroppedAndFlagged) {
  ExecRequest req = sh("head -c 100000 /dev/zero; head -c 10 /dev/zero >&2");
  req.output_cap = 1000;
  ExecResult r = run(req);
  EXPECT_EQ(r.exit_code, 0);  // the writer was not blocked by the cap
  EXPECT_EQ(r.stdout_data.size(), 1000u);
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_EQ(r.stderr_data.size(), 10u);
  EXPECT_FALSE(r.stderr_truncated);
}

TEST_F(ExecRunnerTest, TimeoutKillsTheWholeGroup) {
  auto start = std::chrono::steady_clock::now();
  // The grandchild holds stdout open; it must die with the group for this to end quickly.
  ExecRequest req = sh("sleep 30 & echo started; sleep 30");
  req.timeout_ms = 300;
  ExecResult r = run(req);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_EQ(r.stdout_data, "started\n");
  EXPECT_GE(r.duration_ns, 300'000'000u);
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST_F(ExecRunnerTest, BackgroundChildDoesNotHoldTheResult) {
  auto start = std::chrono::steady_clock::now();
  ExecResult r = run(sh("sleep 5 & echo done"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_data, "done\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(ExecRunnerTest, SignalIsReported) {
  ExecResult r = run(sh("kill -TERM $$"));
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_EQ(r.exit_code, -1);
}

TEST_F(ExecRunnerTest, ProcessThatIgnoresStdinStillEnds) {
  ExecRequest req = sh("exit 0");
  req.stdin_data.assign(4 << 20, 'x');  // more than a pipe holds
  ExecResult r = run(req);
  EXPECT_EQ(r.exit_code, 0);
}

TEST_F(ExecRunnerTest, FailuresAreErrors) {
  ExecRequest missing;
  missing.argv = {"no-such-program-ember"};
  auto a = run_exec(reaper_, missing);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message().find("not found in PATH"), std::string::npos);

  ExecRequest bad_cwd = sh("true");
  bad_cwd.cwd = "/no/such/dir";
  auto b = run_exec(reaper_, bad_cwd);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message().find("chdir"), std::string::npos);
  EXPECT_EQ(b.error().code, ENOENT);

  char plain[] = "/tmp/ember-exec-test-XXXXXX";
  int fd = ::mkstemp(plain);  // mode 0600: not executable, even for root
  ASSERT_GE(fd, 0);
  ::close(fd);
  ExecRequest not_exec;
  not_exec.argv = {plain};
  auto c = run_exec(reaper_, not_exec);
  ::unlink(plain);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, EACCES);

  EXPECT_FALSE(run_exec(reaper_, ExecRequest{}).ok());
  ExecRequest nul = sh(std::string("echo a\0b", 8));
  EXPECT_FALSE(run_exec(reaper_, nul).ok());
}

TEST_F(ExecRunnerTest, ConcurrentRunsGetTheirOwnResults) {
  std::vector<std::thread> threads;
  std::vector<ExecResult> results(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      results[i] = run(sh("sleep 0.1; echo " + std::to_string(i) + "; exit " + std::to_string(i)));
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(results[i].exit_code, i);
    EXPECT_EQ(results[i].stdout_data, std::to_string(i) + "\n");
  }
}

}  // namespace
}  // namespace ember::agent
