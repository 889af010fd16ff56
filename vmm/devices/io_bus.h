// IoBus: routes port I/O or MMIO exits to the device whose address range holds them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "vmm/devices/mmio_device.h"

namespace ember::vmm {

// Filled once while the VM is built, then only read (from every vCPU thread at once), so
// lookups take no lock. Devices lock their own state.
class IoBus {
 public:
  // Routes [base, base + size) to `device` with offsets relative to base. Fails on an empty
  // or wrapping range and on overlap with an existing range.
  Status add(uint64_t base, uint64_t size, std::shared_ptr<MmioDevice> device);

  // Dispatches an access lying entirely inside one range and returns true. Returns false
  // (and touches nothing) when no range holds all of [addr, addr + data.size()).
  bool read(uint64_t addr, std::span<uint8_t> data) const;
  bool write(uint64_t addr, std::span<const uint8_t> data) const;

  size_t size() const { return ranges_.size(); }

 private:
  struct Range {
    uint64_t base;
    uint64_t size;
    std::shared_ptr<MmioDevice> device;
  };
  const Range* find(uint64_t addr, uint64_t len) const;

  std::vector<Range> ranges_;  // sorted by base, disjoint
};

// A device that reads as a constant byte and ignores writes: legacy ports a Linux guest
// touches but Ember does not emulate (PCI config 0xCF8-0xCFF reads all-ones, meaning "no
// PCI"; POST code 0x80 and CMOS 0x70/0x71 read zero).
class ConstantDevice : public MmioDevice {
 public:
  explicit ConstantDevice(uint8_t fill) : fill_(fill) {}
  void mmio_read(uint64_t offset, std::span<uint8_t> data) override;
  void mmio_write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  uint8_t fill_;
};

}  // namespace ember::vmm
