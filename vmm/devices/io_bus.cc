// IoBus: range lookup and dispatch.
#include "vmm/devices/io_bus.h"

#include <algorithm>
#include <cstring>

namespace ember::vmm {

Status IoBus::add(uint64_t base, uint64_t size, std::shared_ptr<MmioDevice> device) {
  if (size == 0 || base + size < base || !device) {
    return make_error("add device to bus", "empty or wrapping range at " + std::to_string(base));
  }
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), base,
                             [](const Range& r, uint64_t b) { return r.base < b; });
  const bool overlaps_next = it != ranges_.end() && it->base < base + size;
  const bool overlaps_prev = it != ranges_.begin() && (it - 1)->base + (it - 1)->size > base;
  if (overlaps_next || overlaps_prev) {
    return make_error("add device to bus", "range at " + std::to_string(base) + " size " +
                                               std::to_string(size) + " overlaps another device");
  }
  ranges_.insert(it, Range{base, size, std::move(device)});
  return {};
}

const IoBus::Range* IoBus::find(uint64_t addr, uint64_t len) const {
  // The last range starting at or below addr is the only candidate.
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), addr,
                             [](uint64_t a, const Range& r) { return a < r.base; });
  if (it == ranges_.begin()) return nullptr;
  const Range& r = *(it - 1);
  const uint64_t offset = addr - r.base;
  if (offset >= r.size || len > r.size - offset) return nullptr;
  return &r;
}

bool IoBus::read(uint64_t addr, std::span<uint8_t> data) const {
  const Range* r = find(addr, data.size());
  if (r == nullptr) return false;
  r->device->mmio_read(addr - r->base, data);
  return true;
}

bool IoBus::write(uint64_t addr, std::span<const uint8_t> data) const {
  const Range* r = find(addr, data.size());
  if (r == nullptr) return false;
  r->device->mmio_write(addr - r->base, data);
  return true;
}

void ConstantDevice::mmio_read(uint64_t, std::span<uint8_t> data) {
  std::memset(data.data(), fill_, data.size());
}

void ConstantDevice::mmio_write(uint64_t, std::span<const uint8_t>) {}

}  // namespace ember::vmm
