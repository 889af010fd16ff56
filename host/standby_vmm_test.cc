// Tests for StandbyStock with a stand-in for ember-vmm (a shell script that waits), and
// for the restore request's failure path; real standby restores are in tests/vm.
#include "host/standby_vmm.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace ember::host {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class StandbyStockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ember-standby-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // Records its pid and arguments, then waits like a standby VMM would.
    fake_vmm_ = (dir_ / "fake-vmm").string();
    std::ofstream(fake_vmm_) << "#!/bin/sh\necho \"$$ $@\" >> " << (dir_ / "calls").string()
                             << "\nexec sleep 60\n";
    ::chmod(fake_vmm_.c_str(), 0755);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Waits until the stock holds n, or gives up after 10 s.
  static bool wait_available(StandbyStock& stock, size_t n) {
    for (int i = 0; i < 1000; ++i) {
      if (stock.available() == n) return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }

  // Waits until pid has exited (a zombie: only its parent, the stock, can reap it).
  static bool wait_zombie(pid_t pid) {
    for (int i = 0; i < 1000; ++i) {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string line;
      std::getline(stat, line);
      const size_t paren = line.rfind(')');
      if (paren != std::string::npos && line.substr(paren + 2, 1) == "Z") return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }

  // One line per fake VMM started: "<pid> <arguments>".
  std::vector<std::string> calls() const {
    std::vector<std::string> lines;
    std::ifstream in(dir_ / "calls");
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  fs::path dir_;
  std::string fake_vmm_;
};

TEST_F(StandbyStockTest, FillsToItsTargetAndRefillsAfterATake) {
  StandbyStock stock(fake_vmm_, dir_.string(), 2);
  ASSERT_TRUE(wait_available(stock, 2));
  auto vmm = stock.take();
  ASSERT_TRUE(vmm.ok()) << vmm.error().message();
  EXPECT_TRUE(vmm->process.running());
  EXPECT_TRUE(vmm->files.api_sock.starts_with(dir_.string()));
  ASSERT_TRUE(wait_available(stock, 2));
  for (int i = 0; i < 500 && calls().empty(); ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_FALSE(calls().empty());
  const std::string first = calls().front();
  EXPECT_NE(first.find(" --standby --api-sock " + dir_.string()), std::string::npos) << first;
  EXPECT_NE(first.find(" --standby-timeout 600 --lifeline-fd 4"), std::string::npos) << first;
}

TEST_F(StandbyStockTest, OnesPastTheirAgeAreReplacedAndNeverHandedOut) {
  StandbyStock stock(fake_vmm_, dir_.string(), 1, {}, nullptr, nullptr, milliseconds(400));
  ASSERT_TRUE(wait_available(stock, 1));
  for (int i = 0; i < 500 && calls().empty(); ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_FALSE(calls().empty());
  const pid_t first = std::stoi(calls().front());
  // The refill retires it once it is 400 ms old and spawns a successor.
  for (int i = 0; i < 300 && calls().size() < 2; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_GE(calls().size(), 2u);
  for (int i = 0; i < 500 && ::kill(first, 0) == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_NE(::kill(first, 0), 0) << "the aged VMM was not killed and reaped";
  auto taken = stock.take();
  ASSERT_TRUE(taken.ok()) << taken.error().message();
  EXPECT_NE(taken->process.pid(), first);
  EXPECT_LT(std::chrono::steady_clock::now() - taken->spawned_at, milliseconds(400));
}

TEST_F(StandbyStockTest, SkipsOnesThatDiedAndSpawnsWhenEmpty) {
  StandbyStock stock(fake_vmm_, dir_.string(), 1);
  ASSERT_TRUE(wait_available(stock, 1));
  // Kill the one in stock (the only one spawned so far): take() must not hand it out. It
  // may not have written its line yet.
  for (int i = 0; i < 500 && calls().empty(); ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_EQ(calls().size(), 1u);
  const pid_t stocked = std::stoi(calls().front());
  ASSERT_EQ(::kill(stocked, SIGKILL), 0);
  ASSERT_TRUE(wait_zombie(stocked));
  auto taken = stock.take();
  ASSERT_TRUE(taken.ok()) << taken.error().message();
  EXPECT_TRUE(taken->process.running());
  EXPECT_NE(taken->process.pid(), stocked);
}

TEST_F(StandbyStockTest, WithoutATargetEveryTakeSpawns) {
  StandbyStock stock(fake_vmm_, dir_.string(), 0);
  EXPECT_EQ(stock.available(), 0u);
  auto vmm = stock.take();
  ASSERT_TRUE(vmm.ok()) << vmm.error().message();
  EXPECT_TRUE(vmm->process.running());
}

TEST_F(StandbyStockTest, AMissingBinaryFailsTheTakeWithItsName) {
  StandbyStock stock((dir_ / "no-such-vmm").string(), dir_.string(), 1);
  auto vmm = stock.take();
  ASSERT_FALSE(vmm.ok());
  EXPECT_NE(vmm.error().message().find("no-such-vmm"), std::string::npos)
      << vmm.error().message();
}

TEST_F(StandbyStockTest, ARestoreRequestNobodyAnswersTimesOut) {
  auto vmm = spawn_standby_vmm(fake_vmm_, dir_.string(), {});  // never listens
  ASSERT_TRUE(vmm.ok());
  Status s = restore_on_standby(*vmm, "/snapshots/x", {}, milliseconds(200));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find(vmm->files.api_sock), std::string::npos)
      << s.error().message();
}

}  // namespace
}  // namespace ember::host
