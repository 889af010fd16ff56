// Tests for RuntimeProcess and its readings: ordered output, exits, kills, memory, OOM counter.
#include "guest-agent/runtime_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "guest-agent/process_memory.h"

namespace ember::agent {
namespace {

using std::chrono::milliseconds;

class RuntimeProcessTest : public ::testing::Test {
 protected:
  // Starts `sh -c script`; its exit lands in exit_.
  std::unique_ptr<RuntimeProcess> start(const std::string& script) {
    SpawnSpec spec;
    spec.program = "/bin/sh";
    spec.argv = {"sh", "-c", script};
    spec.env = {std::string("PATH=") + kDefaultPath};
    auto p = RuntimeProcess::start(reaper_, spec, log_,
                                   [this](const RuntimeExit& e) { exit_.set_value(e); });
    EXPECT_TRUE(p.ok()) << p.error().message();
    return p.ok() ? std::move(p).value() : nullptr;
  }
  RuntimeExit wait_exit() {
    auto f = exit_.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return f.get();
  }

  ChildReaper reaper_;
  LogBuffer log_{1 << 20};
  std::promise<RuntimeExit> exit_;
};

TEST_F(RuntimeProcessTest, BothStreamsShareOneOrderedLogAndTheExitIsReported) {
  auto p = start("echo one; echo two >&2; echo three; read line || echo stdin-eof; exit 3");
  ASSERT_NE(p, nullptr);
  RuntimeExit e = wait_exit();
  EXPECT_EQ(e.exit_code, 3);
  EXPECT_EQ(e.term_signal, 0);
  EXPECT_FALSE(e.out_of_memory);
  EXPECT_TRUE(p->exited());
  EXPECT_EQ(log_.take(), "one\ntwo\nthree\nstdin-eof\n");
}

TEST_F(RuntimeProcessTest, CollectOutputTakesWhatWasWrittenSoFar) {
  const std::string marker =
      ::testing::TempDir() + "/ember-rp-marker-" + std::to_string(::getpid());
  ::unlink(marker.c_str());
  auto p = start("echo before; touch " + marker + "; sleep 30");
  ASSERT_NE(p, nullptr);
  struct stat st;
  for (int i = 0; i < 500 && ::stat(marker.c_str(), &st) != 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  p->collect_output();
  EXPECT_EQ(log_.take(), "before\n");
  EXPECT_FALSE(p->exited());
  EXPECT_GT(p->peak_memory_bytes(), 0u);  // VmHWM of sh and sleep
  p->kill();
  RuntimeExit e = wait_exit();
  EXPECT_EQ(e.term_signal, SIGKILL);
  EXPECT_EQ(e.exit_code, -1);
  ::unlink(marker.c_str());
}

TEST_F(RuntimeProcessTest, BackgroundChildrenDoNotHoldTheExitBack) {
  auto start_time = std::chrono::steady_clock::now();
  auto p = start("sleep 5 & echo parent; exit 0");
  ASSERT_NE(p, nullptr);
  RuntimeExit e = wait_exit();
  EXPECT_EQ(e.exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start_time, std::chrono::seconds(3));
  EXPECT_EQ(log_.take(), "parent\n");
  p->kill();  // the group, with its sleeping child
}

TEST_F(RuntimeProcessTest, DestroyingARunningProcessKillsItsGroup) {
  const std::string pidfile = ::testing::TempDir() + "/ember-rp-pid-" + std::to_string(::getpid());
  auto p = start("sleep 30 & echo $! > " + pidfile + "; sleep 30");
  ASSERT_NE(p, nullptr);
  std::string child;
  for (int i = 0; i < 500 && child.empty(); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
    std::ifstream(pidfile) >> child;
  }
  ASSERT_FALSE(child.empty());
  p.reset();
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
    std::ifstream stat("/proc/" + child + "/stat");
    std::string pid, comm, state;
    gone = !(stat >> pid >> comm >> state) || state == "Z";
  }
  EXPECT_TRUE(gone);
  ::unlink(pidfile.c_str());
}

TEST_F(RuntimeProcessTest, MissingProgramIsAnError) {
  SpawnSpec spec;
  spec.program = "/no/such/bootstrap";
  spec.argv = {spec.program};
  auto p = RuntimeProcess::start(reaper_, spec, log_, [](const RuntimeExit&) {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ENOENT);
  EXPECT_NE(p.error().message().find("/no/such/bootstrap"), std::string::npos);
}

TEST(ProcessMemory, ReadingsFromProcAndFakeFiles) {
  EXPECT_GT(process_group_peak_rss(::getpgrp()), 1u << 20);  // this test binary at least
  EXPECT_EQ(process_group_peak_rss(::getpgrp(), "/no/such/proc"), 0u);

  char tmpl[] = "/tmp/ember-memory-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::ofstream(dir + "/vmstat") << "nr_free_pages 5\noom_kill 42\nother 1\n";
  EXPECT_EQ(oom_kill_count(dir + "/vmstat"), 42u);
  EXPECT_EQ(oom_kill_count(dir + "/missing"), 0u);
  std::ofstream(dir + "/memory.peak") << "123456789\n";
  EXPECT_EQ(cgroup_memory_peak(dir), 123456789u);
  EXPECT_FALSE(cgroup_memory_peak(dir + "/nothing").has_value());
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace ember::agent
