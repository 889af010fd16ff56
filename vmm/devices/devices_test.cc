// Tests for the I/O bus dispatch, the i8042 reset line and the constant ports.
#include <gtest/gtest.h>

#include <vector>

#include "vmm/devices/i8042.h"
#include "vmm/devices/io_bus.h"

namespace ember::vmm {
namespace {

// Records accesses; reads return the low byte of the offset.
class RecordingDevice : public MmioDevice {
 public:
  void mmio_read(uint64_t offset, std::span<uint8_t> data) override {
    reads.push_back(offset);
    for (auto& b : data) b = static_cast<uint8_t>(offset);
  }
  void mmio_write(uint64_t offset, std::span<const uint8_t> data) override {
    writes.push_back({offset, std::vector<uint8_t>(data.begin(), data.end())});
  }
  std::vector<uint64_t> reads;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> writes;
};

TEST(IoBus, DispatchesWithRelativeOffsets) {
  IoBus bus;
  auto a = std::make_shared<RecordingDevice>();
  auto b = std::make_shared<RecordingDevice>();
  ASSERT_TRUE(bus.add(0x1000, 0x100, a).ok());
  ASSERT_TRUE(bus.add(0x3000, 0x10, b).ok());
  uint8_t v[4] = {};
  ASSERT_TRUE(bus.read(0x1010, v));
  EXPECT_EQ(v[0], 0x10);
  const uint8_t w[2] = {7, 8};
  ASSERT_TRUE(bus.write(0x300E, w));
  ASSERT_EQ(b->writes.size(), 1u);
  EXPECT_EQ(b->writes[0].first, 0xEu);
  EXPECT_EQ(b->writes[0].second, (std::vector<uint8_t>{7, 8}));
  EXPECT_TRUE(a->writes.empty());
}

TEST(IoBus, RejectsAccessesOutsideOrStraddlingRanges) {
  IoBus bus;
  auto a = std::make_shared<RecordingDevice>();
  ASSERT_TRUE(bus.add(0x1000, 0x100, a).ok());
  uint8_t v[4] = {};
  EXPECT_FALSE(bus.read(0x0FFF, {v, 1}));
  EXPECT_FALSE(bus.read(0x1100, {v, 1}));
  EXPECT_FALSE(bus.read(0x10FE, {v, 4})) << "straddles the end";
  EXPECT_TRUE(bus.read(0x10FC, {v, 4}));
  EXPECT_FALSE(bus.read(~0ULL - 1, {v, 4}));
  EXPECT_EQ(a->reads.size(), 1u);
}

TEST(IoBus, RejectsOverlapsEmptyAndWrappingRanges) {
  IoBus bus;
  auto d = std::make_shared<RecordingDevice>();
  ASSERT_TRUE(bus.add(0x1000, 0x100, d).ok());
  EXPECT_FALSE(bus.add(0x10FF, 0x10, d).ok());
  EXPECT_FALSE(bus.add(0x0F00, 0x101, d).ok());
  EXPECT_FALSE(bus.add(0x1000, 0x100, d).ok());
  EXPECT_FALSE(bus.add(0x2000, 0, d).ok());
  EXPECT_FALSE(bus.add(~0ULL - 4, 0x10, d).ok());
  EXPECT_TRUE(bus.add(0x1100, 0x10, d).ok()) << "adjacent is fine";
  EXPECT_TRUE(bus.add(0x0F00, 0x100, d).ok());
  EXPECT_EQ(bus.size(), 3u);
}

TEST(ConstantDevice, ReadsFillAndIgnoresWrites) {
  ConstantDevice ones(0xFF);
  uint8_t v[4] = {};
  ones.mmio_read(0, v);
  EXPECT_EQ(v[0], 0xFF);
  EXPECT_EQ(v[3], 0xFF);
  const uint8_t w[4] = {1, 2, 3, 4};
  ones.mmio_write(0, w);
  ones.mmio_read(0, v);
  EXPECT_EQ(v[2], 0xFF);
}

class I8042Test : public ::testing::Test {
 protected:
  I8042Test() : dev_([this] { ++resets_; }) {}
  uint8_t in(uint64_t off) {
    uint8_t v = 0xEE;
    dev_.mmio_read(off, {&v, 1});
    return v;
  }
  void out(uint64_t off, uint8_t v) { dev_.mmio_write(off, {&v, 1}); }
  int resets_ = 0;
  I8042 dev_;
};

TEST_F(I8042Test, ResetCommandCallsBack) {
  out(I8042::kCommandOffset, 0x20);
  EXPECT_EQ(resets_, 0);
  out(I8042::kCommandOffset, I8042::kCmdResetCpu);
  EXPECT_EQ(resets_, 1);
  out(I8042::kDataOffset, I8042::kCmdResetCpu);
  EXPECT_EQ(resets_, 1) << "0xFE on the data port is not a reset";
}

TEST_F(I8042Test, StatusNeverBusySoKbWaitFinishes) {
  EXPECT_EQ(in(I8042::kCommandOffset)&0x02, 0) << "input buffer never full";
}

TEST_F(I8042Test, ControllerConfigByteReadAndWrite) {
  out(I8042::kCommandOffset, I8042::kCmdReadCtr);
  EXPECT_TRUE(in(I8042::kCommandOffset)&I8042::kStatusOutputFull);
  EXPECT_EQ(in(I8042::kDataOffset), 0x61);
  EXPECT_FALSE(in(I8042::kCommandOffset)&I8042::kStatusOutputFull);
  out(I8042::kCommandOffset, I8042::kCmdWriteCtr);
  out(I8042::kDataOffset, 0x45);
  out(I8042::kCommandOffset, I8042::kCmdReadCtr);
  EXPECT_EQ(in(I8042::kDataOffset), 0x45);
}

TEST_F(I8042Test, SelfTestAnswers0x55) {
  out(I8042::kCommandOffset, I8042::kCmdSelfTest);
  EXPECT_EQ(in(I8042::kDataOffset), 0x55);
}

}  // namespace
}  // namespace ember::vmm
