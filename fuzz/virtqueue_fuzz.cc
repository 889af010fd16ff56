// virtqueue: the split-ring descriptor walker and ChainCursor over a guest-written ring.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "fuzz/virtq_input.h"
#include "vmm/virtio/queue.h"

namespace ember::fuzz {
namespace {

using vmm::GuestMemory;
using vmm::virtio::ChainCursor;
using vmm::virtio::DescriptorChain;
using vmm::virtio::GuestBuffer;
using vmm::virtio::kMaxChainBytes;
using vmm::virtio::Queue;

// Bytes any one chain is read or written: enough to cross many buffers, bounded so a
// chain of 16 MiB costs no more than a small one.
constexpr uint64_t kMaxCopy = 8 * 1024;
// Chunk sizes the cursor is driven with, in turn: crossing buffer edges at odd places.
constexpr uint64_t kChunks[] = {1, 3, 16, 7, 511, 64, 2, 4096};

GuestMemory& memory() {
  static GuestMemory mem = GuestMemory::create_anonymous(kFuzzMemSize).value();
  return mem;
}

// The chain's buffers concatenated, read straight from guest memory (the reference).
std::vector<uint8_t> flatten(const GuestMemory& mem, const std::vector<GuestBuffer>& bufs,
                             uint64_t limit) {
  std::vector<uint8_t> out;
  for (const GuestBuffer& b : bufs) {
    const uint8_t* host = mem.host_ptr(b.addr, b.len);
    EMBER_FUZZ_ASSERT(host != nullptr);
    const uint64_t n = std::min<uint64_t>(b.len, limit - out.size());
    out.insert(out.end(), host, host + n);
    if (out.size() == limit) break;
  }
  return out;
}

void check_chain(const GuestMemory& mem, const Queue& queue, const DescriptorChain& chain) {
  EMBER_FUZZ_ASSERT(chain.head < queue.config().size);
  uint64_t readable = 0, writable = 0;
  for (const GuestBuffer& b : chain.readable) readable += b.len;
  for (const GuestBuffer& b : chain.writable) writable += b.len;
  EMBER_FUZZ_ASSERT(readable == chain.readable_len);
  EMBER_FUZZ_ASSERT(writable == chain.writable_len);
  EMBER_FUZZ_ASSERT(readable + writable <= kMaxChainBytes);
  // Each descriptor holds one buffer, an indirect table at most size of them.
  EMBER_FUZZ_ASSERT(chain.readable.size() + chain.writable.size() <= queue.config().size);
}

void read_chain(const GuestMemory& mem, const DescriptorChain& chain, unsigned* turn) {
  const uint64_t total = std::min(chain.readable_len, kMaxCopy);
  const std::vector<uint8_t> expected = flatten(mem, chain.readable, total);
  ChainCursor in(mem, chain.readable);
  EMBER_FUZZ_ASSERT(in.remaining() == chain.readable_len);
  std::vector<uint8_t> got;
  while (got.size() < total) {
    const uint64_t n = std::min(kChunks[(*turn)++ % std::size(kChunks)], total - got.size());
    uint64_t iov_bytes = 0;
    for (const iovec& v : in.iovecs(n)) {
      EMBER_FUZZ_ASSERT(v.iov_base != nullptr && v.iov_len > 0);
      iov_bytes += v.iov_len;
    }
    EMBER_FUZZ_ASSERT(iov_bytes == n);
    std::vector<uint8_t> chunk(n);
    EMBER_FUZZ_ASSERT(in.read(chunk).ok());
    got.insert(got.end(), chunk.begin(), chunk.end());
  }
  EMBER_FUZZ_ASSERT(got == expected);
  EMBER_FUZZ_ASSERT(in.consumed() == total);
  // Reading past the end fails and moves nothing.
  const uint64_t left = in.remaining();
  std::vector<uint8_t> too_much(std::min<uint64_t>(left, kMaxCopy) + 1);
  if (too_much.size() > left) {
    EMBER_FUZZ_ASSERT(!in.read(too_much).ok());
    EMBER_FUZZ_ASSERT(in.remaining() == left);
  }
}

uint32_t write_chain(const GuestMemory& mem, const DescriptorChain& chain, unsigned* turn) {
  ChainCursor out(mem, chain.writable);
  const uint64_t skip = std::min<uint64_t>(kChunks[(*turn)++ % std::size(kChunks)],
                                           chain.writable_len);
  EMBER_FUZZ_ASSERT(out.skip(skip).ok());
  const uint64_t n = std::min(out.remaining(), kMaxCopy);
  std::vector<uint8_t> pattern(n);
  for (size_t i = 0; i < n; ++i) pattern[i] = static_cast<uint8_t>(i * 31 + 7);
  EMBER_FUZZ_ASSERT(out.write(pattern).ok());
  EMBER_FUZZ_ASSERT(out.consumed() == skip + n);
  // What was written is in guest memory: re-read it through a fresh cursor.
  ChainCursor again(mem, chain.writable);
  EMBER_FUZZ_ASSERT(again.skip(skip).ok());
  std::vector<uint8_t> back(n);
  EMBER_FUZZ_ASSERT(again.read(back).ok());
  // Writable buffers may overlap each other; only the last bytes written are certain.
  if (chain.writable.size() == 1) EMBER_FUZZ_ASSERT(back == pattern);
  return static_cast<uint32_t>(skip + n);
}

void write_seeds(const std::string& dir) {
  {  // a request and its response buffer: the common two-descriptor chain
    SeedImage s(1);
    const char header[16] = "request-header";
    s.add_chain(0, {{s.alloc(16, header), 16, false}, {s.alloc(1), 1, true}});
    write_seed(dir, "two_descriptors", s.bytes());
  }
  {  // several chains, buffers of odd sizes on both sides
    SeedImage s(1);
    const char text[] = "the quick brown fox jumps over the lazy dog";
    s.add_chain(0, {{s.alloc(sizeof text, text), sizeof text, false},
                    {s.alloc(5, "12345"), 5, false},
                    {s.alloc(100), 100, true},
                    {s.alloc(3), 3, true}});
    s.add_chain(0, {{s.alloc(200), 200, true}});
    s.add_chain(0, {{s.alloc(1, "x"), 1, false}});
    write_seed(dir, "three_chains", s.bytes());
  }
  {  // an indirect table
    SeedImage s(1);
    s.add_indirect(0, {{s.alloc(8, "indirect"), 8, false},
                       {s.alloc(64), 64, true},
                       {s.alloc(1), 1, true}});
    write_seed(dir, "indirect", s.bytes());
  }
  {  // indices about to wrap past 65535, a full ring
    SeedImage s(1, 4);
    s.regs(0).next_avail = 0xfffe;
    for (int i = 0; i < 4; ++i) s.add_chain(0, {{s.alloc(32), 32, i % 2 == 0}});
    write_seed(dir, "wrapping", s.bytes());
  }
  {  // a descriptor loop (the walker must refuse it)
    SeedImage s(1, 8);
    s.write_desc(0, 0, {s.alloc(16), 16, vmm::virtio::kDescFlagNext, 1});
    s.write_desc(0, 1, {s.alloc(16), 16, vmm::virtio::kDescFlagNext, 0});
    s.publish(0, 0);
    write_seed(dir, "loop", s.bytes());
  }
  {  // the largest queue
    SeedImage s(1, 256);
    s.regs(0) = {256, 0, 0x0, 0x1000, 0x1400};
    s.add_chain(0, {{0x3000, 4096, false}, {0x4000, 4096, true}});
    write_seed(dir, "queue_256", s.bytes());
  }
}

}  // namespace
}  // namespace ember::fuzz

EMBER_FUZZ_SEEDS(ember::fuzz::write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember::fuzz;
  const GuestMemory& mem = memory();
  Queue queue;
  if (!load_queues(data, size, mem, &queue, 1) || !queue.config().ready) return 0;
  unsigned turn = 0;
  // At most a ring's worth of chains, though writes into the avail ring may publish more.
  for (unsigned pops = 0; pops <= queue.config().size; ++pops) {
    auto chain = queue.pop(mem);
    if (!chain.ok() || !chain->has_value()) break;
    const DescriptorChain& c = **chain;
    check_chain(mem, queue, c);
    read_chain(mem, c, &turn);
    const uint32_t written = write_chain(mem, c, &turn);
    if (!queue.add_used(mem, c.head, written).ok()) break;
    (void)queue.needs_interrupt(mem);
  }
  return 0;
}
