// Serial: 16550A register model, output ring and panic detection.
#include "vmm/devices/serial.h"

#include <unistd.h>

#include <cerrno>

namespace ember::vmm {
namespace {

constexpr size_t kMaxLineLength = 1024;  // longer lines are cut for the panic check

}  // namespace

Serial::Serial(std::function<void()> raise_irq, int out_fd)
    : raise_irq_(std::move(raise_irq)), out_fd_(out_fd) {
  ring_.reserve(kSerialRingSize);
}

void Serial::mmio_read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  // Byte-wide registers: wider reads see the register followed by zeros.
  for (uint8_t& b : data) b = 0;
  if (offset > uart::kScr || data.empty()) return;
  data[0] = read_register(static_cast<uint8_t>(offset));
}

void Serial::mmio_write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mu_);
  if (offset > uart::kScr || data.empty()) return;
  write_register(static_cast<uint8_t>(offset), data[0]);
}

uint8_t Serial::read_register(uint8_t reg) {
  const bool dlab = s_.lcr & uart::kLcrDlab;
  switch (reg) {
    case uart::kData: {
      if (dlab) return s_.dll;
      if (s_.rx.empty()) return 0;
      const uint8_t b = s_.rx.front();
      s_.rx.erase(s_.rx.begin());
      update_irq();
      return b;
    }
    case uart::kIer: return dlab ? s_.dlm : s_.ier;
    case uart::kIir: {
      const uint8_t id = interrupt_id();
      // Reading IIR while it reports THR-empty acknowledges that interrupt.
      if (id == uart::kIirThri) s_.thr_interrupt_pending = false;
      return id | ((s_.fcr & uart::kFcrEnableFifo) ? uart::kIirFifoEnabled : 0);
    }
    case uart::kLcr: return s_.lcr;
    case uart::kMcr: return s_.mcr;
    case uart::kLsr: return uart::kLsrThre | uart::kLsrTemt | (s_.rx.empty() ? 0 : uart::kLsrDr);
    case uart::kMsr:
      if (s_.mcr & uart::kMcrLoop) {
        // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (the driver's UART probe).
        return static_cast<uint8_t>(((s_.mcr & 0x01) << 5) | ((s_.mcr & 0x02) << 3) |
                                    ((s_.mcr & 0x04) << 4) | ((s_.mcr & 0x08) << 4));
      }
      return uart::kMsrDcd | uart::kMsrDsr | uart::kMsrCts;
    case uart::kScr: return s_.scr;
    default: return 0;
  }
}

void Serial::write_register(uint8_t reg, uint8_t value) {
  const bool dlab = s_.lcr & uart::kLcrDlab;
  switch (reg) {
    case uart::kData:
      if (dlab) {
        s_.dll = value;
        return;
      }
      if (s_.mcr & uart::kMcrLoop) {
        if (s_.rx.size() < kSerialRxCapacity) s_.rx.push_back(value);
      } else {
        transmit(value);
      }
      // The byte left at once: the holding register is empty again.
      s_.thr_interrupt_pending = true;
      update_irq();
      return;
    case uart::kIer:
      if (dlab) {
        s_.dlm = value;
        return;
      }
      // Enabling THRI while THR is empty (it always is) raises the interrupt at once.
      if ((value & uart::kIerThri) && !(s_.ier & uart::kIerThri)) s_.thr_interrupt_pending = true;
      s_.ier = value & 0x0F;
      update_irq();
      return;
    case uart::kIir:  // FCR
      s_.fcr = value & 0xC9;
      if (value & uart::kFcrClearRx) s_.rx.clear();
      update_irq();
      return;
    case uart::kLcr: s_.lcr = value; return;
    case uart::kMcr: s_.mcr = value & 0x1F; return;
    case uart::kScr: s_.scr = value; return;
    default: return;  // LSR and MSR are read-only
  }
}

void Serial::transmit(uint8_t byte) {
  if (out_fd_ >= 0) {
    ssize_t n;
    do {
      n = ::write(out_fd_, &byte, 1);
    } while (n < 0 && errno == EINTR);
  }
  if (ring_.size() < kSerialRingSize) {
    ring_.push_back(static_cast<char>(byte));
  } else {
    ring_[ring_head_] = static_cast<char>(byte);
    ring_head_ = (ring_head_ + 1) % kSerialRingSize;
  }
  if (byte == '\n' || line_.size() >= kMaxLineLength) {
    if (panic_line_.empty() && line_.find(kKernelPanicMarker) != std::string::npos) {
      panic_line_ = line_;
    }
    line_.clear();
    if (byte == '\n') return;
  }
  if (byte != '\r') line_.push_back(static_cast<char>(byte));
}

uint8_t Serial::interrupt_id() const {
  if ((s_.ier & uart::kIerRdi) && !s_.rx.empty()) return uart::kIirRdi;
  if ((s_.ier & uart::kIerThri) && s_.thr_interrupt_pending) return uart::kIirThri;
  return uart::kIirNoInt;
}

void Serial::update_irq() {
  if (interrupt_id() != uart::kIirNoInt && raise_irq_) raise_irq_();
}

void Serial::enqueue_input(std::span<const uint8_t> bytes) {
  std::lock_guard lock(mu_);
  for (uint8_t b : bytes) {
    if (s_.rx.size() >= kSerialRxCapacity) break;
    s_.rx.push_back(b);
  }
  update_irq();
}

std::string Serial::recent_output() const {
  std::lock_guard lock(mu_);
  if (ring_.size() < kSerialRingSize) return ring_;
  return ring_.substr(ring_head_) + ring_.substr(0, ring_head_);
}

std::string Serial::panic_line() const {
  std::lock_guard lock(mu_);
  if (!panic_line_.empty()) return panic_line_;
  // The panic message may still be the unfinished last line.
  if (line_.find(kKernelPanicMarker) != std::string::npos) return line_;
  return {};
}

Serial::State Serial::save() const {
  std::lock_guard lock(mu_);
  return s_;
}

void Serial::restore(const State& state) {
  std::lock_guard lock(mu_);
  s_ = state;
  if (s_.rx.size() > kSerialRxCapacity) s_.rx.resize(kSerialRxCapacity);
  s_.ier &= 0x0F;
  s_.mcr &= 0x1F;
}

}  // namespace ember::vmm
