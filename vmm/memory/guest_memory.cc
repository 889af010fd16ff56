// GuestMemory: layout around the MMIO gap and bounds-checked access.
#include "vmm/memory/guest_memory.h"

#include <sys/mman.h>

#include <algorithm>

namespace ember::vmm {

Result<GuestMemory> GuestMemory::create_anonymous(uint64_t size) { return build(size, -1); }

Result<GuestMemory> GuestMemory::map_file_private(int fd, uint64_t size) {
  return build(size, fd);
}

Result<GuestMemory> GuestMemory::build(uint64_t size, int fd) {
  if (size == 0 || size % 4096 != 0) {
    return make_error("set up guest memory", "size must be a non-zero multiple of 4 KiB, got " +
                                                 std::to_string(size));
  }
  GuestMemory mem;
  mem.size_ = size;
  const uint64_t low = std::min(size, kMmioGapStart);
  const uint64_t parts[2][2] = {{0, low}, {kMmioGapEnd, size - low}};
  uint64_t file_offset = 0;
  for (const auto& [guest_addr, part_size] : parts) {
    if (part_size == 0) continue;
    const int flags = fd >= 0 ? MAP_PRIVATE : (MAP_PRIVATE | MAP_NORESERVE);
    EMBER_TRY(MappedRegion map, MappedRegion::map(part_size, PROT_READ | PROT_WRITE, flags, fd,
                                                  static_cast<off_t>(file_offset)));
    mem.regions_.push_back({guest_addr, part_size, file_offset, map.data()});
    mem.mappings_.push_back(std::move(map));
    file_offset += part_size;
  }
  return mem;
}

uint8_t* GuestMemory::host_ptr(uint64_t gpa, uint64_t len) const {
  for (const MemoryRegion& r : regions_) {
    if (gpa >= r.guest_addr && gpa - r.guest_addr <= r.size && len <= r.size - (gpa - r.guest_addr)) {
      return r.host + (gpa - r.guest_addr);
    }
  }
  return nullptr;
}

Status GuestMemory::read(uint64_t gpa, std::span<uint8_t> out) const {
  if (out.empty()) return {};
  const uint8_t* src = host_ptr(gpa, out.size());
  if (src == nullptr) {
    return make_error("read guest memory", "range outside guest RAM: " + std::to_string(gpa) +
                                               "+" + std::to_string(out.size()));
  }
  std::memcpy(out.data(), src, out.size());
  return {};
}

Status GuestMemory::write(uint64_t gpa, std::span<const uint8_t> in) const {
  if (in.empty()) return {};
  uint8_t* dst = host_ptr(gpa, in.size());
  if (dst == nullptr) {
    return make_error("write guest memory", "range outside guest RAM: " + std::to_string(gpa) +
                                                "+" + std::to_string(in.size()));
  }
  std::memcpy(dst, in.data(), in.size());
  return {};
}

}  // namespace ember::vmm
