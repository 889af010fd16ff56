// Tests of sweep_leftovers with stand-in VMM processes (a copy of /bin/sh named ember-vmm),
// a directory laid out like a cgroup hierarchy, and a state directory an emberd left.
#include "host/runtime/leftovers.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "host/vm_client.h"

namespace ember::host {
namespace {

namespace fs = std::filesystem;

class LeftoversTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ember-leftovers-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "bin");
    fs::copy_file("/bin/sh", dir_ / "bin" / "ember-vmm");
    state_ = (dir_ / "state").string();
    cgroups_ = (dir_ / "cgroup").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A process named ember-vmm whose command line ends with `path`.
  VmProcess fake_vmm(const std::string& path) {
    auto p = VmProcess::spawn_command(
        {(dir_ / "bin" / "ember-vmm").string(), "-c", "while :; do sleep 1; done", path});
    EXPECT_TRUE(p.ok()) << p.error().message();
    return std::move(p).value();
  }
  void touch(const fs::path& path) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << "x";
  }

  fs::path dir_;
  std::string state_, cgroups_;
};

TEST_F(LeftoversTest, KillsOnlyTheVmmsOfThisStateDirectory) {
  VmProcess ours = fake_vmm(state_ + "/runtime/run/vm-1.api.sock");
  VmProcess other = fake_vmm(dir_.string() + "/other-state/runtime/run/vm-1.api.sock");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // both have exec'd
  auto swept = sweep_leftovers(state_, cgroups_);
  ASSERT_TRUE(swept.ok()) << swept.error().message();
  EXPECT_EQ(swept->processes, 1);
  auto ours_end = ours.wait_for(std::chrono::seconds(5));
  ASSERT_TRUE(ours_end.ok() && ours_end->has_value());
  EXPECT_EQ(**ours_end, 128 + SIGKILL);
  EXPECT_TRUE(other.alive());
}

TEST_F(LeftoversTest, RemovesEmptyCgroupsSocketsAndUnfinishedSnapshots) {
  fs::create_directories(cgroups_ + "/ember/vm-100");
  touch(cgroups_ + "/ember/vm-200/cgroup.procs");  // "populated": rmdir fails
  fs::create_directories(cgroups_ + "/ember/other");
  touch(state_ + "/runtime/run/vm-1.api.sock");
  touch(state_ + "/runtime/run/vm-1.vsock");
  const fs::path done = state_ + "/runtime/snapshots/f/rev1";
  touch(done / "state.bin");
  touch(done / "memory.bin");
  touch(done / "memory.bin.tmp-4242");
  touch(done / "working_set.bin.tmp.4242");
  const fs::path unfinished = state_ + "/runtime/snapshots/f/rev2";
  touch(unfinished / "memory.bin");

  auto swept = sweep_leftovers(state_, cgroups_);
  ASSERT_TRUE(swept.ok()) << swept.error().message();
  EXPECT_EQ(swept->processes, 0);
  EXPECT_EQ(swept->cgroups, 1);
  EXPECT_FALSE(fs::exists(cgroups_ + "/ember/vm-100"));
  EXPECT_TRUE(fs::exists(cgroups_ + "/ember/vm-200"));
  EXPECT_TRUE(fs::exists(cgroups_ + "/ember/other"));
  EXPECT_TRUE(fs::is_empty(state_ + "/runtime/run"));
  EXPECT_TRUE(fs::exists(done / "state.bin"));
  EXPECT_TRUE(fs::exists(done / "memory.bin"));
  EXPECT_FALSE(fs::exists(done / "memory.bin.tmp-4242"));
  EXPECT_FALSE(fs::exists(done / "working_set.bin.tmp.4242"));
  EXPECT_FALSE(fs::exists(unfinished));
  EXPECT_EQ(swept->files, 2 + 2 + 2);  // two sockets, two temporaries, rev2 and its file
  EXPECT_EQ(swept->describe(), "0 VMM processes, 1 cgroup and 6 files");
}

TEST_F(LeftoversTest, AFreshStateDirectoryHasNothingToSweep) {
  auto swept = sweep_leftovers(state_, cgroups_);
  ASSERT_TRUE(swept.ok()) << swept.error().message();
  EXPECT_TRUE(swept->empty());
}

}  // namespace
}  // namespace ember::host
