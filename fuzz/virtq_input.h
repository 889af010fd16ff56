// The input layout of the virtio targets: queue registers, then the guest RAM image.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "vmm/memory/guest_memory.h"
#include "vmm/virtio/queue.h"
#include "vmm/virtio/virtio_spec.h"

namespace ember::fuzz {

// Guest RAM of every virtio target: small, so random addresses often land inside it.
inline constexpr uint64_t kFuzzMemSize = 64 * 1024;

// What the driver wrote into the transport's queue registers (little endian, 16 bytes).
struct QueueRegisters {
  uint16_t size;
  uint16_t next_avail;  // the device's position, as a restored snapshot could hold it
  uint32_t desc_addr;
  uint32_t avail_addr;
  uint32_t used_addr;
};
static_assert(sizeof(QueueRegisters) == 16);

// Reads `count` register blocks from the front of the input into `queues`, then copies the
// rest into guest RAM from address 0 (truncated to its size; the remainder zeroed). Queues
// whose registers the transport would refuse at DRIVER_OK are left not ready. False when
// the input is too short for the registers.
inline bool load_queues(const uint8_t* data, size_t size, const vmm::GuestMemory& mem,
                        vmm::virtio::Queue* queues, size_t count) {
  if (size < count * sizeof(QueueRegisters)) return false;
  uint8_t* ram = mem.host_ptr(0, kFuzzMemSize);
  const size_t image = std::min<size_t>(size - count * sizeof(QueueRegisters), kFuzzMemSize);
  std::memcpy(ram, data + count * sizeof(QueueRegisters), image);
  std::memset(ram + image, 0, kFuzzMemSize - image);
  for (size_t i = 0; i < count; ++i) {
    QueueRegisters r;
    std::memcpy(&r, data + i * sizeof(QueueRegisters), sizeof(r));
    vmm::virtio::Queue& q = queues[i];
    q.reset();
    vmm::virtio::Queue::State& s = q.config();
    s.size = r.size;
    s.next_avail = r.next_avail;
    s.next_used = r.next_avail;
    s.desc_addr = r.desc_addr;
    s.driver_addr = r.avail_addr;
    s.device_addr = r.used_addr;
    s.ready = q.validate(mem).ok();
  }
  return true;
}

// Builds seed inputs: register blocks, then a RAM image with rings and buffers laid out
// the way a well-behaved driver would.
class SeedImage {
 public:
  // Queue q's rings: descriptors at 0x400 * q, avail ring +0x100, used ring +0x200;
  // buffers from alloc() start after every queue's rings.
  explicit SeedImage(size_t queues, uint16_t size = 16)
      : regs_(queues), avail_idx_(queues), next_desc_(queues), ram_(kFuzzMemSize / 4) {
    for (size_t q = 0; q < queues; ++q) {
      regs_[q] = {size, 0, desc(q), desc(q) + 0x100, desc(q) + 0x200};
    }
    next_data_ = static_cast<uint32_t>(0x400 * queues);
  }

  static uint32_t desc(size_t q) { return static_cast<uint32_t>(0x400 * q); }
  QueueRegisters& regs(size_t q) { return regs_[q]; }

  uint32_t alloc(uint32_t len, const void* content = nullptr) {
    const uint32_t addr = next_data_;
    next_data_ += (len + 15) & ~15u;
    if (content != nullptr) put(addr, content, len);
    return addr;
  }
  void put(uint64_t addr, const void* bytes, size_t len) {
    if (addr + len > ram_.size()) ram_.resize(addr + len);
    std::memcpy(ram_.data() + addr, bytes, len);
  }
  template <typename T>
  void put_obj(uint64_t addr, const T& value) {
    put(addr, &value, sizeof(T));
  }
  void write_desc(size_t q, uint16_t index, vmm::virtio::VirtqDesc d) {
    put_obj(desc(q) + 16ull * index, d);
  }

  struct Buf {
    uint32_t addr;
    uint32_t len;
    bool writable;
  };
  // Chains bufs through fresh descriptors of queue q and publishes the head.
  uint16_t add_chain(size_t q, const std::vector<Buf>& bufs) {
    const uint16_t head = next_desc_[q];
    for (size_t i = 0; i < bufs.size(); ++i) {
      const uint16_t index = next_desc_[q]++;
      uint16_t flags = bufs[i].writable ? vmm::virtio::kDescFlagWrite : 0;
      if (i + 1 < bufs.size()) flags |= vmm::virtio::kDescFlagNext;
      write_desc(q, index, {bufs[i].addr, bufs[i].len, flags, static_cast<uint16_t>(index + 1)});
    }
    publish(q, head);
    return head;
  }
  // One descriptor pointing at an indirect table of bufs; publishes it.
  uint16_t add_indirect(size_t q, const std::vector<Buf>& bufs) {
    const uint32_t table = alloc(static_cast<uint32_t>(16 * bufs.size()));
    for (size_t i = 0; i < bufs.size(); ++i) {
      uint16_t flags = bufs[i].writable ? vmm::virtio::kDescFlagWrite : 0;
      if (i + 1 < bufs.size()) flags |= vmm::virtio::kDescFlagNext;
      put_obj(table + 16 * i, vmm::virtio::VirtqDesc{bufs[i].addr, bufs[i].len, flags,
                                                     static_cast<uint16_t>(i + 1)});
    }
    const uint16_t head = next_desc_[q]++;
    write_desc(q, head, {table, static_cast<uint32_t>(16 * bufs.size()),
                         vmm::virtio::kDescFlagIndirect, 0});
    publish(q, head);
    return head;
  }
  void publish(size_t q, uint16_t head) {
    const QueueRegisters& r = regs_[q];
    const uint16_t slot = static_cast<uint16_t>((r.next_avail + avail_idx_[q]) % r.size);
    put_obj<uint16_t>(r.avail_addr + 4 + 2 * slot, head);
    put_obj<uint16_t>(r.avail_addr + 2, static_cast<uint16_t>(r.next_avail + ++avail_idx_[q]));
  }

  // Registers, then the RAM image up to its last written byte.
  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out(regs_.size() * sizeof(QueueRegisters));
    std::memcpy(out.data(), regs_.data(), out.size());
    size_t end = ram_.size();
    while (end > 0 && ram_[end - 1] == 0) --end;
    out.insert(out.end(), ram_.begin(), ram_.begin() + static_cast<ptrdiff_t>(end));
    return out;
  }

 private:
  std::vector<QueueRegisters> regs_;
  std::vector<uint16_t> avail_idx_;
  std::vector<uint16_t> next_desc_;
  std::vector<uint8_t> ram_;
  uint32_t next_data_;
};

}  // namespace ember::fuzz
