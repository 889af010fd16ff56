// End-to-end: ember-vmm boots the guest, ember-agent answers over vsock (label "vm").
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/vm/guest_vm.h"

namespace ember::test {
namespace {

using std::chrono::seconds;

// One VM shared by the tests that only run commands, to keep emulated boots few.
class BootedGuest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host::VmConfig config;
    config.mem_mib = 256;
    config.vcpus = 2;
    auto vm = GuestVm::start(config);
    ASSERT_TRUE(vm.ok()) << vm.error().message();
    vm_ = new GuestVm(std::move(vm).value());
    auto ready = vm_->wait_ready();
    ASSERT_TRUE(ready.ok()) << ready.error().message();
  }
  static void TearDownTestSuite() {
    delete vm_;
    vm_ = nullptr;
  }
  static GuestVm* vm_;
};
GuestVm* BootedGuest::vm_ = nullptr;

TEST_F(BootedGuest, PythonFromTheRootImageRuns) {
  ASSERT_NE(vm_, nullptr);
  auto r = vm_->run({"python3", "-c", "print(6*7)"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_data, "42\n");
}

TEST_F(BootedGuest, FailingCommandReturnsItsStatus) {
  ASSERT_NE(vm_, nullptr);
  auto r = vm_->run({"sh", "-c", "echo oops >&2; exit 7"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_EQ(r->stderr_data, "oops\n");
}

TEST_F(BootedGuest, OneMebibyteOfStdinRoundTripsThroughCat) {
  ASSERT_NE(vm_, nullptr);
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7919) >> 3);
  auto r = vm_->run({"cat"}, data);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_data.size(), data.size());
  EXPECT_TRUE(r->stdout_data == data);
}

TEST_F(BootedGuest, SeesTwoVcpus) {
  ASSERT_NE(vm_, nullptr);
  auto r = vm_->run({"nproc"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->stdout_data, "2\n");
}

TEST_F(BootedGuest, TmpIsWritable) {
  ASSERT_NE(vm_, nullptr);
  auto r = vm_->run({"sh", "-c", "echo hi > /tmp/x && cat /tmp/x"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->stdout_data, "hi\n");
}

TEST(GuestLifecycle, ShutdownMakesTheVmmExitZero) {
  auto vm = GuestVm::start({});
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  auto ready = vm->wait_ready();
  ASSERT_TRUE(ready.ok()) << ready.error().message();
  auto status = vm->agent().shutdown(std::chrono::milliseconds(30'000));
  ASSERT_TRUE(status.ok()) << status.error().message();
  auto code = vm->process().wait_for(std::chrono::milliseconds(60'000));
  ASSERT_TRUE(code.ok() && code->has_value()) << "the VMM did not exit after shutdown";
  EXPECT_EQ(**code, 0) << vm->process().stderr_output();
}

TEST(GuestLifecycle, KernelPanicExitsNonZeroWithTheReason) {
  host::VmConfig config;
  config.extra_cmdline = "rdinit=/no-such-init init=/no-such-init";
  auto vm = GuestVm::start(config);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  auto code = vm->process().wait_for(std::chrono::milliseconds(120'000));
  ASSERT_TRUE(code.ok() && code->has_value()) << "the VMM did not exit after the panic";
  EXPECT_EQ(**code, 3);
  EXPECT_NE(vm->process().stderr_output().find("panic"), std::string::npos)
      << vm->process().stderr_output();
}

// Four VMs alive at once, each answering on its own vsock. They boot one after another:
// four boots at once have made the emulated-AMD-V test host's kernel soft-lock.
TEST(GuestLifecycle, FourVmsAtOnce) {
  std::vector<GuestVm> vms;
  for (int i = 0; i < 4; ++i) {
    host::VmConfig config;
    config.vsock_cid = 3 + static_cast<uint32_t>(i);
    auto vm = GuestVm::start(config);
    ASSERT_TRUE(vm.ok()) << vm.error().message();
    auto ready = vm->wait_ready();
    ASSERT_TRUE(ready.ok()) << "VM " << i << ": " << ready.error().message();
    vms.push_back(std::move(vm).value());
  }
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(vms[i].process().running()) << "VM " << i << " exited";
    auto r = vms[i].run({"sh", "-c", "echo vm-$((20 + " + std::to_string(i) + "))"});
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->stdout_data, "vm-" + std::to_string(20 + i) + "\n");
  }
}

}  // namespace
}  // namespace ember::test
