// Queue: a split virtqueue in guest memory, walked with every guest pointer checked.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/virtio/virtio_spec.h"

namespace ember::vmm::virtio {

inline constexpr uint16_t kMaxQueueSize = 256;
// No request Ember serves is near this; a larger chain is a hostile or broken driver.
inline constexpr uint64_t kMaxChainBytes = uint64_t{128} << 20;

// One guest buffer of a chain, already checked to lie inside one RAM region.
struct GuestBuffer {
  uint64_t addr = 0;
  uint32_t len = 0;
};

// A popped descriptor chain: the device-readable buffers, then the device-writable ones
// (the spec forbids readable after writable, and walk() rejects it).
struct DescriptorChain {
  uint16_t head = 0;
  std::vector<GuestBuffer> readable;
  std::vector<GuestBuffer> writable;
  uint64_t readable_len = 0;
  uint64_t writable_len = 0;
};

// Sequential copying out of a chain's readable buffers (or into its writable ones).
class ChainCursor {
 public:
  ChainCursor(const GuestMemory& mem, std::span<const GuestBuffer> buffers);

  uint64_t remaining() const { return remaining_; }
  uint64_t consumed() const { return consumed_; }
  // Copies exactly out.size() bytes, failing (and copying nothing) if fewer remain.
  Status read(std::span<uint8_t> out);
  Status write(std::span<const uint8_t> in);
  Status skip(uint64_t len);
  // Host iovecs for the next `len` bytes (clamped to what remains), without advancing.
  std::vector<iovec> iovecs(uint64_t len) const;

 private:
  template <typename Fn>
  Status walk(uint64_t len, Fn fn);

  const GuestMemory& mem_;
  std::span<const GuestBuffer> buffers_;
  size_t index_ = 0;
  uint32_t offset_ = 0;  // into buffers_[index_]
  uint64_t remaining_ = 0;
  uint64_t consumed_ = 0;
};

class Queue {
 public:
  // Everything a snapshot needs; also the register file the transport writes.
  struct State {
    uint16_t max_size = kMaxQueueSize;
    uint16_t size = 0;
    bool ready = false;
    uint64_t desc_addr = 0;
    uint64_t driver_addr = 0;  // avail ring
    uint64_t device_addr = 0;  // used ring
    uint16_t next_avail = 0;
    uint16_t next_used = 0;
  };

  explicit Queue(uint16_t max_size = kMaxQueueSize);

  State& config() { return s_; }
  const State& config() const { return s_; }
  State save() const { return s_; }
  void restore(const State& s) { s_ = s; }
  // Back to the power-on state (keeps max_size).
  void reset();

  // Checks size and ring placement; called when the driver sets DRIVER_OK.
  Status validate(const GuestMemory& mem) const;

  // True when the driver has published a chain not yet popped.
  Result<bool> has_available(const GuestMemory& mem) const;
  // Takes the next available chain, or nullopt when none. Any malformed ring or chain
  // (out of range, loops, too long, too large, bad indirect table) is an error and the
  // device must stop using the queue (NEEDS_RESET).
  Result<std::optional<DescriptorChain>> pop(const GuestMemory& mem);
  // Gives back the chain pop() returned last, unused.
  void undo_pop() { --s_.next_avail; }
  // Publishes `len` bytes written into chain `head`.
  Status add_used(const GuestMemory& mem, uint16_t head, uint32_t len);
  // Whether the driver wants an interrupt for used buffers (VIRTQ_AVAIL_F_NO_INTERRUPT).
  Result<bool> needs_interrupt(const GuestMemory& mem) const;

 private:
  Status walk(const GuestMemory& mem, uint16_t head, DescriptorChain& chain) const;
  Status add_buffer(const GuestMemory& mem, const VirtqDesc& d, DescriptorChain& c) const;

  State s_;
};

}  // namespace ember::vmm::virtio
