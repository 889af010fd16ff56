// Tests for the 16550A model: registers as Linux's 8250 driver uses them, output and panics.
#include "vmm/devices/serial.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace ember::vmm {
namespace {

class SerialTest : public ::testing::Test {
 protected:
  SerialTest() : serial_([this] { ++irqs_; }, -1) {}

  uint8_t in(uint8_t reg) {
    uint8_t v = 0xEE;
    serial_.mmio_read(reg, {&v, 1});
    return v;
  }
  void out(uint8_t reg, uint8_t v) { serial_.mmio_write(reg, {&v, 1}); }
  void print(const std::string& s) {
    for (char c : s) out(uart::kData, static_cast<uint8_t>(c));
  }

  int irqs_ = 0;
  Serial serial_;
};

TEST_F(SerialTest, TransmittedBytesLandInTheRing) {
  print("hello\r\n");
  EXPECT_EQ(serial_.recent_output(), "hello\r\n");
  EXPECT_EQ(irqs_, 0) << "no interrupt while IER is 0";
}

TEST_F(SerialTest, TransmittedBytesGoToTheConsoleFd) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  Serial console([] {}, fds[1]);
  for (char c : std::string("ok\n")) {
    const uint8_t b = static_cast<uint8_t>(c);
    console.mmio_write(uart::kData, {&b, 1});
  }
  char buf[8] = {};
  ASSERT_EQ(::read(fds[0], buf, sizeof(buf)), 3);
  EXPECT_EQ(std::string(buf, 3), "ok\n");
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(SerialTest, RingKeepsOnlyTheLast16KiB) {
  print(std::string(kSerialRingSize, 'a'));
  print("tail");
  const std::string out = serial_.recent_output();
  EXPECT_EQ(out.size(), kSerialRingSize);
  EXPECT_EQ(out.substr(out.size() - 4), "tail");
  EXPECT_EQ(out.substr(0, 4), "aaaa");
}

TEST_F(SerialTest, DivisorLatchSharesDataAndIerOffsets) {
  out(uart::kLcr, uart::kLcrDlab | 0x03);
  out(uart::kData, 0x01);
  out(uart::kIer, 0x02);
  EXPECT_EQ(in(uart::kData), 0x01);
  EXPECT_EQ(in(uart::kIer), 0x02);
  EXPECT_EQ(serial_.recent_output(), "") << "DLL writes are not output";
  out(uart::kLcr, 0x03);
  EXPECT_EQ(in(uart::kIer), 0x00) << "IER untouched by DLM writes";
  EXPECT_EQ(in(uart::kLcr), 0x03);
}

TEST_F(SerialTest, IerKeepsOnlyLowNibbleLikeTheDriverProbeExpects) {
  out(uart::kIer, 0xFF);
  EXPECT_EQ(in(uart::kIer), 0x0F);
}

TEST_F(SerialTest, ThrEmptyInterruptRaisedAndAcknowledgedByIir) {
  EXPECT_EQ(in(uart::kIir)&0x0F, uart::kIirNoInt);
  out(uart::kIer, uart::kIerThri);
  EXPECT_EQ(irqs_, 1) << "enabling THRI with an empty THR interrupts at once";
  EXPECT_EQ(in(uart::kIir)&0x0F, uart::kIirThri);
  EXPECT_EQ(in(uart::kIir)&0x0F, uart::kIirNoInt) << "reading IIR acknowledged it";
  out(uart::kData, 'x');
  EXPECT_EQ(irqs_, 2);
  EXPECT_EQ(in(uart::kIir)&0x0F, uart::kIirThri);
}

TEST_F(SerialTest, LineStatusAlwaysReadyToTransmit) {
  const uint8_t lsr = in(uart::kLsr);
  EXPECT_EQ(lsr & (uart::kLsrThre | uart::kLsrTemt), uart::kLsrThre | uart::kLsrTemt);
  EXPECT_EQ(lsr & uart::kLsrDr, 0);
}

TEST_F(SerialTest, FifoBitsFollowFcr) {
  EXPECT_EQ(in(uart::kIir)&0xC0, 0);
  out(uart::kIir, uart::kFcrEnableFifo);
  EXPECT_EQ(in(uart::kIir)&0xC0, 0xC0);
}

TEST_F(SerialTest, ReceivedDataSetsDrAndInterrupts) {
  out(uart::kIer, uart::kIerRdi);
  const uint8_t input[] = {'a', 'b'};
  serial_.enqueue_input(input);
  EXPECT_GE(irqs_, 1);
  EXPECT_TRUE(in(uart::kLsr)&uart::kLsrDr);
  EXPECT_EQ(in(uart::kIir)&0x0F, uart::kIirRdi);
  EXPECT_EQ(in(uart::kData), 'a');
  EXPECT_EQ(in(uart::kData), 'b');
  EXPECT_FALSE(in(uart::kLsr)&uart::kLsrDr);
  EXPECT_EQ(in(uart::kData), 0);
}

TEST_F(SerialTest, LoopbackMirrorsModemControlAndData) {
  // What the driver's autoconfig does: MCR = LOOP | OUT2 | RTS must read MSR 0x90.
  out(uart::kMcr, uart::kMcrLoop | 0x0A);
  EXPECT_EQ(in(uart::kMsr)&0xF0, 0x90);
  out(uart::kMcr, uart::kMcrLoop | 0x05);
  EXPECT_EQ(in(uart::kMsr)&0xF0, 0x60);
  out(uart::kData, 'z');
  EXPECT_EQ(serial_.recent_output(), "") << "looped bytes are not transmitted";
  EXPECT_EQ(in(uart::kData), 'z');
  out(uart::kMcr, 0x0B);
  EXPECT_EQ(in(uart::kMsr), uart::kMsrDcd | uart::kMsrDsr | uart::kMsrCts);
}

TEST_F(SerialTest, ScratchRegisterHoldsAValue) {
  out(uart::kScr, 0x5A);
  EXPECT_EQ(in(uart::kScr), 0x5A);
}

TEST_F(SerialTest, OutOfRangeOffsetsReadZeroAndIgnoreWrites) {
  out(9, 'q');
  EXPECT_EQ(in(9), 0);
  EXPECT_EQ(serial_.recent_output(), "");
  uint8_t wide[4] = {1, 2, 3, 4};
  out(uart::kScr, 7);
  serial_.mmio_read(uart::kScr, wide);
  EXPECT_EQ(wide[0], 7);
  EXPECT_EQ(wide[1], 0);
}

TEST_F(SerialTest, DetectsKernelPanicLine) {
  print("[    1.0] ok\r\n");
  EXPECT_EQ(serial_.panic_line(), "");
  print("[    2.0] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n");
  print("[    2.1] ---[ end Kernel panic ]---\r\n");
  EXPECT_EQ(serial_.panic_line(),
            "[    2.0] Kernel panic - not syncing: VFS: Unable to mount root fs");
}

TEST_F(SerialTest, DetectsPanicOnUnfinishedLastLine) {
  print("Kernel panic - not syncing: Attempted to kill init!");
  EXPECT_EQ(serial_.panic_line(), "Kernel panic - not syncing: Attempted to kill init!");
}

TEST_F(SerialTest, SaveAndRestoreRegisters) {
  out(uart::kLcr, 0x03);
  out(uart::kScr, 0x42);
  out(uart::kIer, uart::kIerThri);
  const Serial::State state = serial_.save();
  Serial other([] {}, -1);
  other.restore(state);
  uint8_t v = 0;
  other.mmio_read(uart::kScr, {&v, 1});
  EXPECT_EQ(v, 0x42);
  other.mmio_read(uart::kIer, {&v, 1});
  EXPECT_EQ(v, uart::kIerThri);
  other.mmio_read(uart::kIir, {&v, 1});
  EXPECT_EQ(v & 0x0F, uart::kIirThri) << "the pending THR interrupt survives";
}

}  // namespace
}  // namespace ember::vmm
