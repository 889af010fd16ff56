// Tests of VmCgroup against a directory laid out like a cgroup v2 hierarchy.
#include "host/runtime/vm_cgroup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ember::host {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class VmCgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("ember-cgroup-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    std::ofstream(root_ + "/" + rel) << text;
  }
  std::string root_;
};

TEST(CpuMax, ProportionalQuotaWithAFloor) {
  EXPECT_EQ(cpu_max_value(1.0), "100000 100000");
  EXPECT_EQ(cpu_max_value(0.5), "50000 100000");
  EXPECT_EQ(cpu_max_value(2.0), "200000 100000");
  EXPECT_EQ(cpu_max_value(0.001), "1000 100000");
}

TEST_F(VmCgroupTest, RefusesWhatIsNotCgroupV2) {
  Status s = VmCgroup::prepare(root_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("not a cgroup v2 hierarchy"), std::string::npos);
}

TEST_F(VmCgroupTest, RefusesWithoutTheMemoryController) {
  write("cgroup.controllers", "cpu io pids\n");
  write("cgroup.subtree_control", "");
  Status s = VmCgroup::prepare(root_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("memory controller"), std::string::npos);
}

TEST_F(VmCgroupTest, WritesLimitsAndThePid) {
  write("cgroup.controllers", "cpu memory pids\n");
  write("cgroup.subtree_control", "");
  // A real kernel fills the new directory; here the test does, after mkdir.
  fs::create_directories(root_ + "/ember");
  write("ember/cgroup.controllers", "cpu memory\n");
  write("ember/cgroup.subtree_control", "");
  ASSERT_TRUE(VmCgroup::prepare(root_).ok());
  EXPECT_NE(slurp(root_ + "/cgroup.subtree_control").find("+cpu"), std::string::npos);
  {
    auto cg = VmCgroup::create(root_, "vm-42", 42, {256ull << 20, 0.25});
    ASSERT_TRUE(cg.ok()) << cg.error().message();
    EXPECT_EQ(slurp(cg->path() + "/memory.max"), std::to_string(256ull << 20));
    EXPECT_EQ(slurp(cg->path() + "/cpu.max"), "25000 100000");
    EXPECT_EQ(slurp(cg->path() + "/cgroup.procs"), "42");
    ASSERT_TRUE(cg->set_cpus(0.07).ok());  // after a new environment's first invocation
    EXPECT_EQ(slurp(cg->path() + "/cpu.max"), "7000 100000");
  }
}

}  // namespace
}  // namespace ember::host
