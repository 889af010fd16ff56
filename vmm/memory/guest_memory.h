// GuestMemory: the guest's physical RAM as host mappings, with bounds-checked access.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "common/guest_layout.h"
#include "common/mapped_region.h"
#include "common/result.h"

namespace ember::vmm {

// The layout (kMmioGapStart, kMmioGapEnd) is common/guest_layout.h's.
using ember::kMmioGapEnd;
using ember::kMmioGapStart;

struct MemoryRegion {
  uint64_t guest_addr = 0;
  uint64_t size = 0;
  uint64_t file_offset = 0;  // where this region starts in a snapshot memory file
  uint8_t* host = nullptr;
};

class GuestMemory {
 public:
  GuestMemory() = default;
  GuestMemory(GuestMemory&&) = default;
  GuestMemory& operator=(GuestMemory&&) = default;

  // Fresh zeroed RAM of `size` bytes (a multiple of 4 KiB), laid out around the MMIO gap.
  static Result<GuestMemory> create_anonymous(uint64_t size);
  // RAM mapped MAP_PRIVATE (copy-on-write) from a snapshot memory file of `size` bytes.
  static Result<GuestMemory> map_file_private(int fd, uint64_t size);

  uint64_t size() const { return size_; }
  const std::vector<MemoryRegion>& regions() const { return regions_; }

  // Host pointer for [gpa, gpa + len), or nullptr when any byte of it lies outside one
  // RAM region (out of range, overflowing, or straddling the gap). Callers must check.
  uint8_t* host_ptr(uint64_t gpa, uint64_t len) const;

  Status read(uint64_t gpa, std::span<uint8_t> out) const;
  Status write(uint64_t gpa, std::span<const uint8_t> in) const;

  template <typename T>
  Result<T> read_obj(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    EMBER_CHECK(read(gpa, {reinterpret_cast<uint8_t*>(&value), sizeof(T)}));
    return value;
  }
  template <typename T>
  Status write_obj(uint64_t gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return write(gpa, {reinterpret_cast<const uint8_t*>(&value), sizeof(T)});
  }

 private:
  static Result<GuestMemory> build(uint64_t size, int fd);

  std::vector<MappedRegion> mappings_;
  std::vector<MemoryRegion> regions_;
  uint64_t size_ = 0;
};

}  // namespace ember::vmm
