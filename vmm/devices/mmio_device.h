// MmioDevice: a device reached through guest MMIO (or port I/O) exits.
#pragma once

#include <cstdint>
#include <span>

namespace ember::vmm {

// Called from vCPU threads; implementations lock their own state. `offset` is relative
// to the device's base address; data.size() is 1, 2, 4 or 8. Never trust the guest:
// out-of-range offsets read as zero and writes to them are ignored.
class MmioDevice {
 public:
  virtual ~MmioDevice() = default;
  virtual void mmio_read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void mmio_write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

}  // namespace ember::vmm
