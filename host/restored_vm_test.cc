// Tests for RestoredVm and the pool over it, with a stand-in VMM script serving the agent.
#include "host/restored_vm.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "common/working_set.h"

namespace ember::host {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

size_t line_count(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

class RestoredVmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-restored-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    spec_ = SnapshotSpec{dir_ + "/snap", 128, {}};
    // A stand-in for `ember-vmm --restore DIR --vsock-uds V --api-sock A`: the real agent
    // in test mode on V, with the vsock handshake, recording each Refresh.
    write_vmm("exec " EMBER_AGENT_BIN " --serve-unix \"$4\" --vsock-handshake --refresh-record " +
              record());
    options_.vmm_path = dir_ + "/fake-vmm";
    options_.run_dir = dir_;
    options_.ready_timeout = seconds(10);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  void write_vmm(const std::string& body) {
    std::ofstream(dir_ + "/fake-vmm") << "#!/bin/sh\n" << body << "\n";
    ::chmod((dir_ + "/fake-vmm").c_str(), 0755);
  }
  std::string record() const { return dir_ + "/refresh.log"; }

  std::string dir_;
  SnapshotSpec spec_;
  RestoredVmOptions options_;
};

TEST(RestoreCommand, HasFreshSocketsAndReplacementDisks) {
  RestoredVmOptions options;
  options.vmm_path = "/usr/bin/ember-vmm";
  SnapshotSpec spec{"/var/lib/ember/snap/f1", 256, {"/tmp/a.img", "/tmp/b.img:ro"}};
  EXPECT_EQ(restore_command(spec, options, "/run/v.sock", "/run/api.sock"),
            (std::vector<std::string>{"/usr/bin/ember-vmm", "--restore", "/var/lib/ember/snap/f1",
                                      "--vsock-uds", "/run/v.sock", "--api-sock", "/run/api.sock",
                                      "--disk", "/tmp/a.img", "--disk", "/tmp/b.img:ro"}));
}

TEST_F(RestoredVmTest, RestoreRefreshesAndServesThenCleansUp) {
  auto vm = RestoredVm::restore(spec_, options_);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  EXPECT_EQ(line_count(record()), 1u);  // Refresh came first
  EXPECT_TRUE((*vm)->alive());
  ExecRequest request;
  request.argv = {"/bin/sh", "-c", "echo from the clone"};
  auto r = (*vm)->agent().exec(request);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->stdout_data, "from the clone\n");

  const std::string vsock = (*vm)->vsock_uds(), api = (*vm)->api_socket();
  EXPECT_EQ(vsock.rfind(dir_ + "/ember-vm-", 0), 0u);
  EXPECT_TRUE(exists(vsock));
  const pid_t pid = (*vm)->process().pid();
  vm = Result<std::unique_ptr<RestoredVm>>(make_error("drop"));  // destroys the VM
  EXPECT_NE(::kill(pid, 0), 0);                                  // killed and reaped
  EXPECT_FALSE(exists(vsock));
  EXPECT_FALSE(exists(api));
}

TEST_F(RestoredVmTest, VmmExitingEarlyFailsFastWithItsStderr) {
  write_vmm("echo 'restore: state.bin: bad checksum' >&2; exit 1");
  auto start = std::chrono::steady_clock::now();
  auto vm = RestoredVm::restore(spec_, options_);
  ASSERT_FALSE(vm.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(2));
  EXPECT_NE(vm.error().message().find("exited with code 1"), std::string::npos)
      << vm.error().message();
  EXPECT_NE(vm.error().message().find("bad checksum"), std::string::npos);
}

TEST_F(RestoredVmTest, SilentVmmTimesOutAndIsKilled) {
  write_vmm("exec sleep 60");
  options_.ready_timeout = milliseconds(300);
  auto vm = RestoredVm::restore(spec_, options_);
  ASSERT_FALSE(vm.ok());
  EXPECT_NE(vm.error().message().find("restored agent within 300 ms"), std::string::npos)
      << vm.error().message();
}

TEST_F(RestoredVmTest, TheRefreshCarriesTheSnapshotsWorkingSet) {
  ::mkdir(spec_.dir.c_str(), 0755);
  std::ofstream(spec_.dir + "/memory.bin") << std::string(32 * kWorkingSetPageSize, '\0');
  std::ofstream(spec_.dir + "/" + kWorkingSetFile)
      << encode_working_set({{2, 3, false}, {20, 4, true}}, 32);
  auto vm = RestoredVm::restore(spec_, options_);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  // The Refresh, then (after its ack, so perhaps a moment later) the prefetch's start.
  for (int i = 0; i < 100 && line_count(record()) < 2; ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  std::ifstream in(record());
  std::string refresh, prefetch;
  std::getline(in, refresh);
  std::getline(in, prefetch);
  EXPECT_NE(refresh.find(" prefetch_pages=7"), std::string::npos) << refresh;
  EXPECT_EQ(prefetch, "prefetch pages=7");
}

TEST_F(RestoredVmTest, FailedRefreshFailsTheRestore) {
  write_vmm("exec " EMBER_AGENT_BIN " --serve-unix \"$4\" --vsock-handshake --refresh fail-clock");
  auto vm = RestoredVm::restore(spec_, options_);
  ASSERT_FALSE(vm.ok());
  EXPECT_NE(vm.error().message().find("clock not set"), std::string::npos) << vm.error().message();
}

TEST_F(RestoredVmTest, PoolOverTheRealFactory) {
  {
    VmPool pool(std::make_unique<RestoredVmFactory>(options_), PoolOptions{});
    pool.ensure(spec_, 2);
    ASSERT_TRUE(pool.wait_ready(spec_.dir, 2, seconds(10)));
    auto lease = pool.acquire(spec_);
    ASSERT_TRUE(lease.ok()) << lease.error().message();
    EXPECT_TRUE(lease->hit());
    ExecRequest request;
    request.argv = {"/bin/sh", "-c", "echo pooled"};
    auto r = lease->vm().agent().exec(request);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->stdout_data, "pooled\n");
    lease->release(false);
    ASSERT_TRUE(pool.wait_ready(spec_.dir, 2, seconds(10)));
  }
  EXPECT_EQ(line_count(record()), 3u);  // every clone was refreshed
  // Every VM is gone with the pool, and so are their sockets.
  std::string leftovers;
  for (const char* pattern : {"/ember-vm-*"}) {
    if (FILE* p = ::popen(("ls " + dir_ + pattern + " 2>/dev/null").c_str(), "r")) {
      char buf[256];
      while (std::fgets(buf, sizeof buf, p) != nullptr) leftovers += buf;
      ::pclose(p);
    }
  }
  EXPECT_EQ(leftovers, "");
}

}  // namespace
}  // namespace ember::host
