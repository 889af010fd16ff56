// End-to-end: pause, snapshot, resume, and restores of the snapshot (label "vm").
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "tests/vm/guest_vm.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kAgentTimeout{120'000};
constexpr const char* kCounter =
    "(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; sleep 1; done) "
    ">/dev/null 2>&1 </dev/null &";

long read_counter(GuestVm& vm) {
  auto r = vm.run({"cat", "/tmp/c"});
  if (!r.ok() || r->exit_code != 0) return -1;
  try {
    return std::stol(r->stdout_data);
  } catch (...) {
    return -1;
  }
}

// One booted VM, snapshotted once with a counter running; the tests restore that snapshot.
class Snapshotted : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string("/tmp/ember-snapshot-test-" + std::to_string(::getpid()));
    fs::remove_all(*dir_);
    host::VmConfig config;
    config.mem_mib = 256;
    config.vcpus = 1;
    auto vm = GuestVm::start(config, /*api_sock=*/true);
    ASSERT_TRUE(vm.ok()) << vm.error().message();
    vm_ = new GuestVm(std::move(vm).value());
    auto ready = vm_->wait_ready();
    ASSERT_TRUE(ready.ok()) << ready.error().message();
    auto started = vm_->run({"sh", "-c", kCounter});
    ASSERT_TRUE(started.ok()) << started.error().message();
    std::this_thread::sleep_for(seconds(2));
    const long before = read_counter(*vm_);
    ASSERT_GT(before, 0);

    auto reply = vm_->control(R"({"op":"snapshot","dir":")" + *dir_ + "\"}");
    ASSERT_TRUE(reply.ok()) << reply.error().message();
    EXPECT_NE(reply->find("\"ok\":false"), std::string::npos) << "snapshot of a running VM: "
                                                              << *reply;
    reply = vm_->control(R"({"op":"pause"})");
    ASSERT_TRUE(reply.ok()) << reply.error().message();
    ASSERT_EQ(*reply, R"({"ok":true})");
    reply = vm_->control(R"({"op":"stats"})");
    ASSERT_TRUE(reply.ok());
    EXPECT_NE(reply->find("\"state\":\"paused\""), std::string::npos) << *reply;
    reply = vm_->control(R"({"op":"snapshot","dir":")" + *dir_ + "\"}");
    ASSERT_TRUE(reply.ok()) << reply.error().message();
    ASSERT_EQ(*reply, R"({"ok":true})") << vm_->process().stderr_output();
    reply = vm_->control(R"({"op":"resume"})");
    ASSERT_TRUE(reply.ok());
    ASSERT_EQ(*reply, R"({"ok":true})");
    snapshot_counter_ = before;
  }
  static void TearDownTestSuite() {
    delete vm_;
    vm_ = nullptr;
    if (dir_) fs::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }

  // A copy of the snapshot directory (memory.bin hard-linked) for tests that damage it.
  static std::string copy_snapshot(const std::string& name) {
    const std::string copy = *dir_ + "-" + name;
    fs::remove_all(copy);
    fs::create_directories(copy);
    fs::copy_file(*dir_ + "/state.bin", copy + "/state.bin");
    fs::create_hard_link(*dir_ + "/memory.bin", copy + "/memory.bin");
    return copy;
  }

  static GuestVm* vm_;
  static std::string* dir_;
  static long snapshot_counter_;
};
GuestVm* Snapshotted::vm_ = nullptr;
std::string* Snapshotted::dir_ = nullptr;
long Snapshotted::snapshot_counter_ = 0;

TEST_F(Snapshotted, WroteASparseMemoryFileAndTheOriginalKeepsRunning) {
  ASSERT_NE(vm_, nullptr);
  ASSERT_TRUE(fs::exists(*dir_ + "/state.bin"));
  EXPECT_EQ(fs::file_size(*dir_ + "/memory.bin"), uint64_t{256} << 20);
  const long a = read_counter(*vm_);
  std::this_thread::sleep_for(milliseconds(2500));
  const long b = read_counter(*vm_);
  EXPECT_GT(b, a) << "the resumed VM's counter stopped";
  auto reply = vm_->control(R"({"op":"stats"})");
  ASSERT_TRUE(reply.ok());
  EXPECT_NE(reply->find("\"state\":\"running\""), std::string::npos) << *reply;
  auto bad = vm_->control("this is not json");
  ASSERT_TRUE(bad.ok()) << bad.error().message();
  EXPECT_NE(bad->find("\"ok\":false"), std::string::npos) << *bad;
  EXPECT_TRUE(vm_->process().running());
}

TEST_F(Snapshotted, RestoredCounterKeepsIncreasing) {
  ASSERT_NE(vm_, nullptr);
  auto vm = GuestVm::restore(*dir_);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  auto s = vm->connect_agent(kAgentTimeout);
  ASSERT_TRUE(s.ok()) << s.error().message();
  const long first = read_counter(*vm);
  ASSERT_GE(first, snapshot_counter_) << vm->process().stderr_output();
  std::this_thread::sleep_for(seconds(3));
  const long second = read_counter(*vm);
  EXPECT_GT(second, first) << vm->process().stderr_output();
  EXPECT_NE(vm->process().stderr_output().find("restored in"), std::string::npos);
}

// The counts bench-coldstart reports: KVM's own page-fault and exit statistics and the
// VMM's host page faults, all of which a restored guest's first steps must raise.
TEST_F(Snapshotted, StatsCountPageFaultsAndExits) {
  ASSERT_NE(vm_, nullptr);
  auto vm = GuestVm::restore(*dir_);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  ASSERT_TRUE(vm->connect_agent(kAgentTimeout).ok()) << vm->process().stderr_output();
  auto reply = vm->control(R"({"op":"stats"})");
  ASSERT_TRUE(reply.ok()) << reply.error().message();
  const auto stats = nlohmann::json::parse(*reply);
  const auto& vcpus = stats["kvm"]["vcpus"];
  ASSERT_TRUE(vcpus.contains("pf_taken")) << *reply;
  EXPECT_GT(vcpus["pf_taken"].get<uint64_t>(), 0u) << *reply;
  EXPECT_GT(vcpus["exits"].get<uint64_t>(), 0u) << *reply;
  EXPECT_FALSE(stats["kvm"]["vm"].empty()) << *reply;
  // The restored memory is a private file mapping: the guest's first touches fault it in.
  EXPECT_GT(stats["host_faults"]["minor"].get<uint64_t>(), 0u) << *reply;
}

TEST_F(Snapshotted, StartPausedWaitsForResume) {
  ASSERT_NE(vm_, nullptr);
  auto vm = GuestVm::restore(*dir_, {"--start-paused"});
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  auto reply = vm->control(R"({"op":"stats"})");
  ASSERT_TRUE(reply.ok()) << reply.error().message() << vm->process().stderr_output();
  EXPECT_NE(reply->find("\"state\":\"paused\""), std::string::npos) << *reply;
  reply = vm->control(R"({"op":"resume"})");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(*reply, R"({"ok":true})");
  ASSERT_TRUE(vm->connect_agent(kAgentTimeout).ok());
  auto r = vm->run({"sh", "-c", "echo resumed"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->stdout_data, "resumed\n");
}

TEST_F(Snapshotted, CorruptStateIsRefused) {
  ASSERT_NE(vm_, nullptr);
  const std::string dir = copy_snapshot("corrupt");
  {
    std::fstream f(dir + "/state.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  auto vm = GuestVm::restore(dir);
  ASSERT_TRUE(vm.ok());
  auto code = vm->process().wait_for(milliseconds(60'000));
  ASSERT_TRUE(code.ok() && code->has_value());
  EXPECT_EQ(**code, 1);
  EXPECT_NE(vm->process().stderr_output().find("checksum"), std::string::npos)
      << vm->process().stderr_output();
  fs::remove_all(dir);
}

TEST_F(Snapshotted, OtherVersionIsRefused) {
  ASSERT_NE(vm_, nullptr);
  const std::string dir = copy_snapshot("version");
  {
    std::fstream f(dir + "/state.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.put('\x63');  // version 99
  }
  auto vm = GuestVm::restore(dir);
  ASSERT_TRUE(vm.ok());
  auto code = vm->process().wait_for(milliseconds(60'000));
  ASSERT_TRUE(code.ok() && code->has_value());
  EXPECT_EQ(**code, 1);
  EXPECT_NE(vm->process().stderr_output().find("version 99"), std::string::npos)
      << vm->process().stderr_output();
  fs::remove_all(dir);
}

TEST_F(Snapshotted, ShortMemoryFileIsRefused) {
  ASSERT_NE(vm_, nullptr);
  const std::string dir = copy_snapshot("short");
  fs::remove(dir + "/memory.bin");
  fs::copy_file(*dir_ + "/state.bin", dir + "/memory.bin");  // a few KiB, not 256 MiB
  auto vm = GuestVm::restore(dir);
  ASSERT_TRUE(vm.ok());
  auto code = vm->process().wait_for(milliseconds(60'000));
  ASSERT_TRUE(code.ok() && code->has_value());
  EXPECT_EQ(**code, 1);
  EXPECT_NE(vm->process().stderr_output().find("memory.bin"), std::string::npos)
      << vm->process().stderr_output();
  fs::remove_all(dir);
}

TEST_F(Snapshotted, RestoreWithKernelIsAUsageError) {
  const GuestArtifacts a = GuestArtifacts::find();
  auto p = host::VmProcess::spawn_command({a.vmm, "--restore", "/tmp", "--kernel", a.kernel});
  ASSERT_TRUE(p.ok());
  auto code = p->wait();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(p->stderr_output().find("--kernel"), std::string::npos) << p->stderr_output();
}

TEST_F(Snapshotted, TenRestoresAtOnceEachAnswer) {
  ASSERT_NE(vm_, nullptr);
  std::vector<GuestVm> vms;
  for (int i = 0; i < 10; ++i) {
    auto vm = GuestVm::restore(*dir_);
    ASSERT_TRUE(vm.ok()) << vm.error().message();
    vms.push_back(std::move(vm).value());
  }
  for (int i = 0; i < 10; ++i) {
    auto s = vms[i].connect_agent(kAgentTimeout);
    ASSERT_TRUE(s.ok()) << "VM " << i << ": " << s.error().message();
    auto r = vms[i].run({"sh", "-c", "echo clone-" + std::to_string(i)});
    ASSERT_TRUE(r.ok()) << "VM " << i << ": " << r.error().message();
    EXPECT_EQ(r->stdout_data, "clone-" + std::to_string(i) + "\n");
  }
}

}  // namespace
}  // namespace ember::test
