// Serial: a 16550A UART (ttyS0 at port 0x3F8) whose output goes to the console and a ring.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "vmm/devices/mmio_device.h"

namespace ember::vmm {

inline constexpr size_t kSerialRingSize = 16 * 1024;
inline constexpr size_t kSerialRxCapacity = 64;
inline constexpr const char* kKernelPanicMarker = "Kernel panic - not syncing";

// Register offsets from the base port, and the bits Linux's 8250 driver relies on.
namespace uart {
inline constexpr uint8_t kData = 0;  // RBR / THR, or DLL with DLAB
inline constexpr uint8_t kIer = 1;   // or DLM with DLAB
inline constexpr uint8_t kIir = 2;   // read; FCR on write
inline constexpr uint8_t kLcr = 3;
inline constexpr uint8_t kMcr = 4;
inline constexpr uint8_t kLsr = 5;
inline constexpr uint8_t kMsr = 6;
inline constexpr uint8_t kScr = 7;

inline constexpr uint8_t kIerRdi = 0x01;   // received data available
inline constexpr uint8_t kIerThri = 0x02;  // transmitter holding register empty
inline constexpr uint8_t kIirNoInt = 0x01;
inline constexpr uint8_t kIirThri = 0x02;
inline constexpr uint8_t kIirRdi = 0x04;
inline constexpr uint8_t kIirFifoEnabled = 0xC0;
inline constexpr uint8_t kFcrEnableFifo = 0x01;
inline constexpr uint8_t kFcrClearRx = 0x02;
inline constexpr uint8_t kLcrDlab = 0x80;
inline constexpr uint8_t kMcrLoop = 0x10;
inline constexpr uint8_t kLsrDr = 0x01;
inline constexpr uint8_t kLsrThre = 0x20;
inline constexpr uint8_t kLsrTemt = 0x40;
inline constexpr uint8_t kMsrCts = 0x10;
inline constexpr uint8_t kMsrDsr = 0x20;
inline constexpr uint8_t kMsrDcd = 0x80;
}  // namespace uart

class Serial : public MmioDevice {
 public:
  // Everything a snapshot needs.
  struct State {
    uint8_t ier = 0, lcr = 0, mcr = 0, scr = 0, fcr = 0;
    uint8_t dll = 0x0C, dlm = 0;  // 9600 baud, as firmware leaves it
    bool thr_interrupt_pending = false;
    std::vector<uint8_t> rx;
  };

  // `raise_irq` pulses the UART's interrupt line (an irqfd write); it is called with the
  // device lock held and must not call back into the device. `out_fd` receives every byte
  // the guest transmits (-1: none, the bytes are still kept in the ring).
  Serial(std::function<void()> raise_irq, int out_fd);

  void mmio_read(uint64_t offset, std::span<uint8_t> data) override;
  void mmio_write(uint64_t offset, std::span<const uint8_t> data) override;

  // Queues bytes for the guest to read (up to kSerialRxCapacity; the rest is dropped).
  void enqueue_input(std::span<const uint8_t> bytes);

  // The last kSerialRingSize bytes the guest wrote, oldest first.
  std::string recent_output() const;
  // The first output line holding kKernelPanicMarker, or "" when there was none yet.
  std::string panic_line() const;

  State save() const;
  void restore(const State& state);

 private:
  uint8_t read_register(uint8_t reg);
  void write_register(uint8_t reg, uint8_t value);
  void transmit(uint8_t byte);
  uint8_t interrupt_id() const;
  void update_irq();

  mutable std::mutex mu_;
  State s_;
  std::function<void()> raise_irq_;
  int out_fd_;
  std::string ring_;      // circular, kSerialRingSize bytes once full
  size_t ring_head_ = 0;  // next write position once full
  std::string line_;      // the current, unfinished output line
  std::string panic_line_;
};

}  // namespace ember::vmm
