// The guest's physical memory layout, shared by ember-vmm (which builds it) and emberd (which
// names guest pages to the agent): RAM from 0 up to kMmioGapStart, the gap holds device
// MMIO (virtio-mmio, IOAPIC, LAPIC), and RAM beyond that continues at 4 GiB. A snapshot's
// memory file holds the RAM in that order, without the gap.
#pragma once

#include <cstdint>

namespace ember {

inline constexpr uint64_t kMmioGapStart = 0xC000'0000;  // 3 GiB
inline constexpr uint64_t kMmioGapEnd = 0x1'0000'0000;  // 4 GiB

// The guest-physical address of byte `offset` of the memory file.
constexpr uint64_t guest_address_of_file_offset(uint64_t offset) {
  return offset < kMmioGapStart ? offset : offset + (kMmioGapEnd - kMmioGapStart);
}

}  // namespace ember
