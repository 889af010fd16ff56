// I8042: just enough of the PS/2 controller for Linux's reboot=k path (0xFE to port 0x64).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>

#include "vmm/devices/mmio_device.h"

namespace ember::vmm {

// Registered at port 0x60 with size 5: offset 0 is the data port, offset 4 the
// status/command port.
class I8042 : public MmioDevice {
 public:
  static constexpr uint64_t kDataOffset = 0;
  static constexpr uint64_t kCommandOffset = 4;
  static constexpr uint8_t kCmdReadCtr = 0x20;
  static constexpr uint8_t kCmdWriteCtr = 0x60;
  static constexpr uint8_t kCmdSelfTest = 0xAA;
  static constexpr uint8_t kCmdKbdTest = 0xAB;
  static constexpr uint8_t kCmdDisableKbd = 0xAD;
  static constexpr uint8_t kCmdEnableKbd = 0xAE;
  static constexpr uint8_t kCmdResetCpu = 0xFE;
  static constexpr uint8_t kStatusOutputFull = 0x01;
  static constexpr uint8_t kStatusSystemFlag = 0x04;
  static constexpr uint8_t kStatusCommand = 0x08;

  struct State {
    uint8_t ctr = 0x61;  // keyboard interrupt and translation on, system flag set
    uint8_t status = kStatusSystemFlag;
    uint8_t output = 0;
    uint8_t pending_command = 0;
  };

  // `on_reset` runs (once per request, on the vCPU thread, without the lock) when the guest
  // pulses the CPU reset line.
  explicit I8042(std::function<void()> on_reset) : on_reset_(std::move(on_reset)) {}

  void mmio_read(uint64_t offset, std::span<uint8_t> data) override;
  void mmio_write(uint64_t offset, std::span<const uint8_t> data) override;

  State save() const;
  void restore(const State& state);

 private:
  void put_output(uint8_t value);

  mutable std::mutex mu_;
  State s_;
  std::function<void()> on_reset_;
};

}  // namespace ember::vmm
