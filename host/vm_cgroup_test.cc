// Tests of VmCgroup against a directory laid out like a cgroup v2 hierarchy.
#include "host/vm_cgroup.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
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

TEST(VmmLimits, OneVcpuPer1769MbAndANewVmmGetsAllOfThem) {
  EXPECT_EQ(vcpus_for_memory(128), 1u);
  EXPECT_EQ(vcpus_for_memory(1769), 1u);
  EXPECT_EQ(vcpus_for_memory(1770), 2u);
  EXPECT_EQ(vcpus_for_memory(10240), 6u);
  EXPECT_DOUBLE_EQ(cpu_share_for_memory(1769), 1.0);
  EXPECT_NEAR(cpu_share_for_memory(128), 0.0724, 0.001);
  const CgroupLimits small = new_vmm_limits(128);
  EXPECT_EQ(small.memory_max_bytes, (128ull << 20) + kVmmOverheadBytes);
  EXPECT_DOUBLE_EQ(small.cpus, kNoCpuQuota);
  EXPECT_EQ(cpu_max_value(small.cpus), "max 100000");
  EXPECT_EQ(booted_vmm_limits(128).memory_max_bytes, (256ull << 20) + kVmmOverheadBytes);
}

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

TEST_F(VmCgroupTest, WritesTheLimitsAndOpensTheDirectory) {
  write("cgroup.controllers", "cpu memory pids\n");
  write("cgroup.subtree_control", "");
  // A real kernel fills the new directory; here the test does, after mkdir.
  fs::create_directories(root_ + "/ember");
  write("ember/cgroup.controllers", "cpu memory\n");
  write("ember/cgroup.subtree_control", "");
  ASSERT_TRUE(VmCgroup::prepare(root_).ok());
  EXPECT_NE(slurp(root_ + "/cgroup.subtree_control").find("+cpu"), std::string::npos);
  {
    auto cg = VmCgroup::create(root_, "vm-42", {256ull << 20, 0.25});
    ASSERT_TRUE(cg.ok()) << cg.error().message();
    EXPECT_EQ(slurp(cg->path() + "/memory.max"), std::to_string(256ull << 20));
    EXPECT_EQ(slurp(cg->path() + "/cpu.max"), "25000 100000");
    struct stat st;
    ASSERT_EQ(::fstat(cg->fd(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    ASSERT_TRUE(cg->set_cpus(0.07).ok());  // after a new environment's first invocation
    EXPECT_EQ(slurp(cg->path() + "/cpu.max"), "7000 100000");
    ASSERT_TRUE(cg->set_memory_max(512ull << 20).ok());  // a standby VMM given its snapshot
    EXPECT_EQ(slurp(cg->path() + "/memory.max"), std::to_string(512ull << 20));
  }
  {
    const std::string a = VmCgroup::fresh_name(), b = VmCgroup::fresh_name();
    EXPECT_NE(a, b);
    EXPECT_TRUE(a.starts_with("vm-" + std::to_string(::getpid()) + "-")) << a;
  }
}

}  // namespace
}  // namespace ember::host
