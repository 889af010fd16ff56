// Queue: split-virtqueue ring access and descriptor-chain walking.
#include "vmm/virtio/queue.h"

#include <atomic>
#include <bit>
#include <cstring>

namespace ember::vmm::virtio {

namespace {

Error chain_error(const std::string& what) { return make_error("virtqueue", what); }

// Offsets inside the rings (2.7.6, 2.7.8).
constexpr uint64_t kRingIdxOffset = 2;
constexpr uint64_t kRingEntriesOffset = 4;

}  // namespace

ChainCursor::ChainCursor(const GuestMemory& mem, std::span<const GuestBuffer> buffers)
    : mem_(mem), buffers_(buffers) {
  for (const GuestBuffer& b : buffers_) remaining_ += b.len;
}

template <typename Fn>
Status ChainCursor::walk(uint64_t len, Fn fn) {
  if (len > remaining_) return chain_error("buffer too small: need " + std::to_string(len));
  while (len > 0) {
    const GuestBuffer& b = buffers_[index_];
    const uint64_t n = std::min<uint64_t>(len, b.len - offset_);
    if (n > 0) {
      uint8_t* host = mem_.host_ptr(b.addr + offset_, n);
      if (host == nullptr) return chain_error("buffer left guest RAM");
      fn(host, n);
    }
    len -= n;
    remaining_ -= n;
    consumed_ += n;
    offset_ += static_cast<uint32_t>(n);
    if (offset_ == b.len) {
      ++index_;
      offset_ = 0;
    }
  }
  return {};
}

Status ChainCursor::read(std::span<uint8_t> out) {
  uint8_t* dst = out.data();
  return walk(out.size(), [&dst](uint8_t* host, uint64_t n) {
    std::memcpy(dst, host, n);
    dst += n;
  });
}

Status ChainCursor::write(std::span<const uint8_t> in) {
  const uint8_t* src = in.data();
  return walk(in.size(), [&src](uint8_t* host, uint64_t n) {
    std::memcpy(host, src, n);
    src += n;
  });
}

Status ChainCursor::skip(uint64_t len) {
  return walk(len, [](uint8_t*, uint64_t) {});
}

std::vector<iovec> ChainCursor::iovecs(uint64_t len) const {
  std::vector<iovec> out;
  len = std::min(len, remaining_);
  uint32_t offset = offset_;
  for (size_t i = index_; i < buffers_.size() && len > 0; ++i, offset = 0) {
    const uint64_t n = std::min<uint64_t>(len, buffers_[i].len - offset);
    if (n == 0) continue;
    out.push_back({mem_.host_ptr(buffers_[i].addr + offset, n), n});
    len -= n;
  }
  return out;
}

Queue::Queue(uint16_t max_size) { s_.max_size = max_size; }

void Queue::reset() { s_ = State{.max_size = s_.max_size}; }

Status Queue::validate(const GuestMemory& mem) const {
  if (s_.size == 0 || s_.size > s_.max_size || !std::has_single_bit(s_.size)) {
    return chain_error("bad queue size " + std::to_string(s_.size));
  }
  if (s_.desc_addr % 16 != 0 || s_.driver_addr % 2 != 0 || s_.device_addr % 4 != 0) {
    return chain_error("misaligned ring");
  }
  if (mem.host_ptr(s_.desc_addr, uint64_t{16} * s_.size) == nullptr ||
      mem.host_ptr(s_.driver_addr, 6 + uint64_t{2} * s_.size) == nullptr ||
      mem.host_ptr(s_.device_addr, 6 + uint64_t{8} * s_.size) == nullptr) {
    return chain_error("ring outside guest RAM");
  }
  return {};
}

Result<bool> Queue::has_available(const GuestMemory& mem) const {
  if (!s_.ready || s_.size == 0) return chain_error("queue not ready");
  EMBER_TRY(uint16_t avail_idx, mem.read_obj<uint16_t>(s_.driver_addr + kRingIdxOffset));
  const uint16_t pending = static_cast<uint16_t>(avail_idx - s_.next_avail);
  if (pending > s_.size) return chain_error("avail index ran ahead by " + std::to_string(pending));
  return pending != 0;
}

Result<std::optional<DescriptorChain>> Queue::pop(const GuestMemory& mem) {
  EMBER_TRY(bool available, has_available(mem));
  if (!available) return std::optional<DescriptorChain>();
  // Ring entries are read only after the index that published them.
  std::atomic_thread_fence(std::memory_order_acquire);
  const uint64_t slot = s_.driver_addr + kRingEntriesOffset + 2 * (s_.next_avail % s_.size);
  EMBER_TRY(uint16_t head, mem.read_obj<uint16_t>(slot));
  DescriptorChain chain;
  chain.head = head;
  EMBER_CHECK(walk(mem, head, chain));
  ++s_.next_avail;
  return std::optional<DescriptorChain>(std::move(chain));
}

Status Queue::add_buffer(const GuestMemory& mem, const VirtqDesc& d, DescriptorChain& c) const {
  if (mem.host_ptr(d.addr, d.len) == nullptr) {
    return chain_error("descriptor buffer outside guest RAM: " + std::to_string(d.addr) + "+" +
                       std::to_string(d.len));
  }
  const bool writable = (d.flags & kDescFlagWrite) != 0;
  if (!writable && !c.writable.empty()) return chain_error("readable descriptor after writable");
  if (c.readable_len + c.writable_len + d.len > kMaxChainBytes) {
    return chain_error("descriptor chain larger than " + std::to_string(kMaxChainBytes));
  }
  if (d.len == 0) return {};
  (writable ? c.writable : c.readable).push_back({d.addr, d.len});
  (writable ? c.writable_len : c.readable_len) += d.len;
  return {};
}

Status Queue::walk(const GuestMemory& mem, uint16_t head, DescriptorChain& chain) const {
  uint64_t table = s_.desc_addr;
  uint32_t table_size = s_.size;
  bool indirect = false;
  uint32_t index = head;
  uint32_t count = 0;  // buffer descriptors seen; bounds loops as well as long chains
  for (;;) {
    if (index >= table_size) return chain_error("descriptor index out of range");
    if (++count > s_.size) return chain_error("descriptor chain longer than the queue");
    EMBER_TRY(VirtqDesc d, mem.read_obj<VirtqDesc>(table + uint64_t{16} * index));
    if ((d.flags & kDescFlagIndirect) != 0) {
      if (indirect) return chain_error("nested indirect descriptor");
      if ((d.flags & kDescFlagNext) != 0) return chain_error("indirect descriptor with NEXT");
      if (d.len == 0 || d.len % 16 != 0 || d.len / 16 > s_.size) {
        return chain_error("bad indirect table length " + std::to_string(d.len));
      }
      if (mem.host_ptr(d.addr, d.len) == nullptr) {
        return chain_error("indirect table outside guest RAM");
      }
      table = d.addr;
      table_size = d.len / 16;
      indirect = true;
      index = 0;
      --count;  // the table pointer itself carries no buffer
      continue;
    }
    EMBER_CHECK(add_buffer(mem, d, chain));
    if ((d.flags & kDescFlagNext) == 0) return {};
    index = d.next;
  }
}

Status Queue::add_used(const GuestMemory& mem, uint16_t head, uint32_t len) {
  if (head >= s_.size) return chain_error("used head out of range");
  const uint64_t slot = s_.device_addr + kRingEntriesOffset + 8 * uint64_t(s_.next_used % s_.size);
  EMBER_CHECK(mem.write_obj(slot, VirtqUsedElem{head, len}));
  // The entry must be visible before the index that publishes it.
  std::atomic_thread_fence(std::memory_order_release);
  ++s_.next_used;
  return mem.write_obj<uint16_t>(s_.device_addr + kRingIdxOffset, s_.next_used);
}

Result<bool> Queue::needs_interrupt(const GuestMemory& mem) const {
  // Order the used-index store before reading the driver's flags.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  EMBER_TRY(uint16_t flags, mem.read_obj<uint16_t>(s_.driver_addr));
  return (flags & kAvailFlagNoInterrupt) == 0;
}

}  // namespace ember::vmm::virtio
