// Tests for vCPU exit dispatch with fabricated kvm_run contents (no /dev/kvm needed).
#include "vmm/vcpu_runner.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <vector>

namespace ember::vmm {
namespace {

class RecordingDevice : public MmioDevice {
 public:
  void mmio_read(uint64_t offset, std::span<uint8_t> data) override {
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(0xA0 + offset + i);
  }
  void mmio_write(uint64_t offset, std::span<const uint8_t> data) override {
    writes.push_back({offset, std::vector<uint8_t>(data.begin(), data.end())});
  }
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> writes;
};

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto run = MappedRegion::map(3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    ASSERT_TRUE(run.ok());
    vcpu_.emplace(UniqueFd(), std::move(run.value()), 0);
    dev_ = std::make_shared<RecordingDevice>();
    ASSERT_TRUE(pio_.add(0x3F8, 8, dev_).ok());
    ASSERT_TRUE(mmio_.add(0xD000'0000, 0x1000, dev_).ok());
    RunContext ctx;
    ctx.pio = &pio_;
    ctx.mmio = &mmio_;
    ctx.exit = &exit_;
    ctx.panic_line = [this] { return panic_; };
    runner_ = std::make_unique<VcpuRunner>(*vcpu_, ctx);
  }
  kvm_run& run() { return *vcpu_->run_data(); }
  uint8_t* io_data() { return reinterpret_cast<uint8_t*>(&run()) + run().io.data_offset; }
  void set_io(uint8_t direction, uint16_t port, uint8_t size, uint32_t count) {
    run().exit_reason = KVM_EXIT_IO;
    run().io.direction = direction;
    run().io.port = port;
    run().io.size = size;
    run().io.count = count;
    run().io.data_offset = 4096;
  }

  std::optional<Vcpu> vcpu_;
  std::shared_ptr<RecordingDevice> dev_;
  IoBus pio_, mmio_;
  ExitRequest exit_;
  std::string panic_;
  std::unique_ptr<VcpuRunner> runner_;
};

TEST_F(RunnerTest, PortWriteReachesDeviceWithOffset) {
  set_io(KVM_EXIT_IO_OUT, 0x3F8 + 5, 1, 1);
  io_data()[0] = 'x';
  EXPECT_TRUE(runner_->handle_exit());
  ASSERT_EQ(dev_->writes.size(), 1u);
  EXPECT_EQ(dev_->writes[0].first, 5u);
  EXPECT_EQ(dev_->writes[0].second, std::vector<uint8_t>{'x'});
  EXPECT_FALSE(exit_.requested());
}

TEST_F(RunnerTest, RepeatedPortWritesAreEachDispatched) {
  set_io(KVM_EXIT_IO_OUT, 0x3F8, 1, 3);
  std::memcpy(io_data(), "abc", 3);
  EXPECT_TRUE(runner_->handle_exit());
  ASSERT_EQ(dev_->writes.size(), 3u);
  EXPECT_EQ(dev_->writes[2].second, std::vector<uint8_t>{'c'});
}

TEST_F(RunnerTest, PortReadFillsData) {
  set_io(KVM_EXIT_IO_IN, 0x3F8 + 2, 2, 1);
  EXPECT_TRUE(runner_->handle_exit());
  EXPECT_EQ(io_data()[0], 0xA2);
  EXPECT_EQ(io_data()[1], 0xA3);
}

TEST_F(RunnerTest, UnhandledPortReadsZero) {
  set_io(KVM_EXIT_IO_IN, 0x2F8, 4, 1);
  std::memset(io_data(), 0x55, 4);
  EXPECT_TRUE(runner_->handle_exit());
  EXPECT_EQ(io_data()[0], 0);
  EXPECT_EQ(io_data()[3], 0);
}

TEST_F(RunnerTest, PioDataOutsideRunAreaStopsTheVm) {
  set_io(KVM_EXIT_IO_OUT, 0x3F8, 4, 3000);  // 12000 bytes from offset 4096 > 12288
  EXPECT_FALSE(runner_->handle_exit());
  EXPECT_TRUE(dev_->writes.empty());
  ASSERT_TRUE(exit_.requested());
  EXPECT_EQ(exit_.code(), ExitCode::kVmmError);
}

TEST_F(RunnerTest, BadPioSizeStopsTheVm) {
  set_io(KVM_EXIT_IO_OUT, 0x3F8, 3, 1);
  EXPECT_FALSE(runner_->handle_exit());
  EXPECT_EQ(exit_.code(), ExitCode::kVmmError);
}

TEST_F(RunnerTest, MmioWriteAndRead) {
  run().exit_reason = KVM_EXIT_MMIO;
  run().mmio.phys_addr = 0xD000'0050;
  run().mmio.len = 4;
  run().mmio.is_write = 1;
  std::memcpy(run().mmio.data, "\x01\x00\x00\x00", 4);
  EXPECT_TRUE(runner_->handle_exit());
  ASSERT_EQ(dev_->writes.size(), 1u);
  EXPECT_EQ(dev_->writes[0].first, 0x50u);
  run().mmio.is_write = 0;
  run().mmio.phys_addr = 0xD000'0010;
  EXPECT_TRUE(runner_->handle_exit());
  EXPECT_EQ(run().mmio.data[0], 0xB0);
}

TEST_F(RunnerTest, UnhandledMmioReadsZero) {
  run().exit_reason = KVM_EXIT_MMIO;
  run().mmio.phys_addr = 0xFED0'0000;
  run().mmio.len = 8;
  run().mmio.is_write = 0;
  std::memset(run().mmio.data, 0x77, 8);
  EXPECT_TRUE(runner_->handle_exit());
  for (int i = 0; i < 8; ++i) EXPECT_EQ(run().mmio.data[i], 0);
}

TEST_F(RunnerTest, MmioLengthAboveEightStopsTheVm) {
  run().exit_reason = KVM_EXIT_MMIO;
  run().mmio.phys_addr = 0xD000'0000;
  run().mmio.len = 9;
  EXPECT_FALSE(runner_->handle_exit());
  EXPECT_EQ(exit_.code(), ExitCode::kVmmError);
}

TEST_F(RunnerTest, TripleFaultIsAGuestCrash) {
  panic_ = "Kernel panic - not syncing: boom";
  run().exit_reason = KVM_EXIT_SHUTDOWN;
  EXPECT_FALSE(runner_->handle_exit());
  EXPECT_EQ(exit_.code(), ExitCode::kGuestCrash);
  EXPECT_NE(exit_.reason().find("triple fault"), std::string::npos);
  EXPECT_NE(exit_.reason().find("boom"), std::string::npos);
}

TEST_F(RunnerTest, InternalErrorIsAVmmErrorWithDetails) {
  run().exit_reason = KVM_EXIT_INTERNAL_ERROR;
  run().internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
  run().internal.ndata = 1000;  // clamped, never read past the array
  EXPECT_FALSE(runner_->handle_exit());
  EXPECT_EQ(exit_.code(), ExitCode::kVmmError);
  EXPECT_NE(exit_.reason().find("suberror 1"), std::string::npos);
}

TEST_F(RunnerTest, FailEntryAndUnknownExitsAreVmmErrors) {
  run().exit_reason = KVM_EXIT_FAIL_ENTRY;
  run().fail_entry.hardware_entry_failure_reason = 0x21;
  EXPECT_FALSE(runner_->handle_exit());
  EXPECT_NE(exit_.reason().find("0x21"), std::string::npos);
  ExitRequest other;
  RunContext ctx;
  ctx.pio = &pio_;
  ctx.mmio = &mmio_;
  ctx.exit = &other;
  VcpuRunner r2(*vcpu_, ctx);
  run().exit_reason = 9999;
  EXPECT_FALSE(r2.handle_exit());
  EXPECT_EQ(other.code(), ExitCode::kVmmError);
}

TEST_F(RunnerTest, HaltEndsTheVmCleanly) {
  run().exit_reason = KVM_EXIT_HLT;
  EXPECT_FALSE(runner_->handle_exit());
  EXPECT_EQ(exit_.code(), ExitCode::kGuestShutdown);
}

TEST_F(RunnerTest, IoAfterAnotherVcpuRequestedExitStopsThisOne) {
  exit_.request(ExitCode::kGuestShutdown, "guest rebooted");
  set_io(KVM_EXIT_IO_OUT, 0x3F8, 1, 1);
  EXPECT_FALSE(runner_->handle_exit());
  EXPECT_EQ(exit_.reason(), "guest rebooted");
}

TEST(ExitRequest, FirstRequestWinsAndRunsHookOnce) {
  ExitRequest exit;
  int hooks = 0;
  exit.set_stop_hook([&] { ++hooks; });
  EXPECT_FALSE(exit.requested());
  exit.request(ExitCode::kGuestCrash, "first");
  exit.request(ExitCode::kGuestShutdown, "second");
  EXPECT_TRUE(exit.requested());
  EXPECT_EQ(exit.code(), ExitCode::kGuestCrash);
  EXPECT_EQ(exit.reason(), "first");
  EXPECT_EQ(hooks, 1);
}

}  // namespace
}  // namespace ember::vmm
