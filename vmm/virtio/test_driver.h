// TestDriver: a fake guest virtio-mmio driver over anonymous guest memory, for unit tests.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "vmm/event_loop.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/virtio/mmio_transport.h"
#include "vmm/virtio/virtio_spec.h"

namespace ember::vmm::virtio::testing {

inline constexpr uint64_t kTestMemSize = 16 << 20;

// Runs every ready handler of `loop` until nothing is left to do.
void drain(EventLoop& loop);

// Rings of queue q live at 0x10000 * (q + 1): descriptors, then avail (+0x1000), then used
// (+0x2000). Data buffers come from a bump allocator starting at 1 MiB.
class TestDriver {
 public:
  struct Buf {
    uint64_t addr;
    uint32_t len;
    bool writable;
  };

  TestDriver(MmioTransport& transport, const GuestMemory& mem) : transport_(transport), mem_(mem) {}

  uint32_t read32(uint64_t offset);
  void write32(uint64_t offset, uint32_t value);
  uint64_t read_config64(uint64_t offset);

  // ACKNOWLEDGE, DRIVER, features (offered & wanted), FEATURES_OK, queues, DRIVER_OK.
  // Returns the final status register.
  uint32_t init(uint64_t wanted = ~uint64_t{0}, uint16_t queue_size = 256);
  void setup_queue(uint16_t q, uint16_t size);

  uint64_t desc_addr(uint16_t q) const { return 0x10000ULL * (q + 1); }
  uint64_t avail_addr(uint16_t q) const { return desc_addr(q) + 0x1000; }
  uint64_t used_addr(uint16_t q) const { return desc_addr(q) + 0x2000; }

  uint64_t alloc(uint32_t len);
  void write_desc(uint16_t q, uint16_t index, VirtqDesc desc);
  // Writes a chain into fresh descriptors (next_desc_ onward) and publishes it.
  uint16_t add_chain(uint16_t q, const std::vector<Buf>& bufs);
  // One descriptor pointing to an indirect table holding `bufs`; publishes it.
  uint16_t add_indirect(uint16_t q, const std::vector<Buf>& bufs);
  // Puts `head` in the avail ring and bumps avail->idx.
  void publish(uint16_t q, uint16_t head);
  void kick(uint16_t q) { write32(mmio::kQueueNotify, q); }

  uint16_t used_idx(uint16_t q);
  // The next used entry not yet consumed by this driver, if any.
  std::optional<VirtqUsedElem> next_used(uint16_t q);

  std::vector<uint8_t> read_mem(uint64_t addr, size_t len);
  void write_mem(uint64_t addr, const std::vector<uint8_t>& data);

 private:
  MmioTransport& transport_;
  const GuestMemory& mem_;
  uint16_t size_[8] = {};
  uint16_t next_desc_[8] = {};
  uint16_t avail_idx_[8] = {};
  uint16_t used_seen_[8] = {};
  uint64_t next_data_ = 1 << 20;
};

}  // namespace ember::vmm::virtio::testing
