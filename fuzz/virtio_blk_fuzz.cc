// virtio_blk: block requests (header, data, status) popped from a guest-written queue and
// served against a memfd disk.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>

#include "fuzz/fake_transport.h"
#include "fuzz/fuzz_support.h"
#include "fuzz/virtq_input.h"
#include "vmm/virtio/block.h"

namespace ember::fuzz {
namespace {

using vmm::GuestMemory;
using vmm::virtio::Block;

constexpr uint64_t kDiskBytes = 64 * 1024;  // 128 sectors
// The input's first byte picks the device: bit 0 set serves a read-only disk.
constexpr uint8_t kReadOnlyBit = 1;

struct Device {
  int disk_fd = -1;
  GuestMemory mem;
  std::unique_ptr<FuzzTransport> transport;
  std::unique_ptr<Block> block;
};

std::unique_ptr<Block> open_disk(int fd, bool read_only) {
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  auto block = Block::open({path, read_only, read_only ? "fuzz-ro" : "fuzz-rw"});
  if (!block.ok()) {
    std::fprintf(stderr, "cannot open the fuzz disk: %s\n", block.error().message().c_str());
    std::abort();
  }
  return std::move(block).value();
}

Device& device(bool read_only) {
  static Device devices[2];
  Device& d = devices[read_only ? 1 : 0];
  if (!d.block) {
    d.disk_fd = ::memfd_create("ember-fuzz-disk", MFD_CLOEXEC);
    EMBER_FUZZ_ASSERT(d.disk_fd >= 0 && ::ftruncate(d.disk_fd, kDiskBytes) == 0);
    d.mem = GuestMemory::create_anonymous(kFuzzMemSize).value();
    d.transport = std::make_unique<FuzzTransport>(d.mem);
    d.block = open_disk(d.disk_fd, read_only);
    d.block->attach(*d.transport);
    EMBER_FUZZ_ASSERT(d.block->capacity_sectors() == kDiskBytes / Block::kSectorSize);
  }
  return d;
}

struct RequestHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

// One request chain: header, data buffers, the status byte.
void add_request(SeedImage& s, uint32_t type, uint64_t sector,
                 std::vector<SeedImage::Buf> data) {
  const RequestHeader h{type, 0, sector};
  data.insert(data.begin(), {s.alloc(16, &h), 16, false});
  data.push_back({s.alloc(1), 1, true});
  s.add_chain(0, data);
}

void write_seeds(const std::string& dir) {
  auto seed = [&](const std::string& name, bool read_only, auto&& fill) {
    SeedImage s(1);
    fill(s);
    std::vector<uint8_t> bytes = s.bytes();
    bytes.insert(bytes.begin(), read_only ? kReadOnlyBit : 0);
    write_seed(dir, name, bytes);
  };
  seed("read", false, [](SeedImage& s) { add_request(s, 0, 2, {{s.alloc(1024), 1024, true}}); });
  seed("write_then_read", false, [](SeedImage& s) {
    std::vector<uint8_t> data(512, 0x5a);
    add_request(s, 1, 7, {{s.alloc(512, data.data()), 512, false}});
    add_request(s, 0, 7, {{s.alloc(256), 256, true}, {s.alloc(256), 256, true}});
  });
  seed("flush_get_id", false, [](SeedImage& s) {
    add_request(s, 4, 0, {});
    add_request(s, 8, 0, {{s.alloc(20), 20, true}});
  });
  seed("last_sector_and_past", false, [](SeedImage& s) {
    add_request(s, 0, 127, {{s.alloc(512), 512, true}});
    add_request(s, 0, 128, {{s.alloc(512), 512, true}});
    add_request(s, 99, 0, {});
  });
  seed("read_only_write", true, [](SeedImage& s) {
    add_request(s, 1, 0, {{s.alloc(512), 512, false}});
    add_request(s, 0, 0, {{s.alloc(512), 512, true}});
  });
  seed("indirect", false, [](SeedImage& s) {
    const RequestHeader h{0, 0, 1};
    s.add_indirect(0, {{s.alloc(16, &h), 16, false},
                       {s.alloc(512), 512, true},
                       {s.alloc(1), 1, true}});
  });
}

}  // namespace
}  // namespace ember::fuzz

EMBER_FUZZ_SEEDS(ember::fuzz::write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember::fuzz;
  if (size < 1) return 0;
  Device& d = device((data[0] & kReadOnlyBit) != 0);
  FuzzTransport& t = *d.transport;
  t.clear();
  // Each input starts from a zeroed disk, so a crash reproduces from its input alone.
  EMBER_FUZZ_ASSERT(::ftruncate(d.disk_fd, 0) == 0 && ::ftruncate(d.disk_fd, kDiskBytes) == 0);
  if (!load_queues(data + 1, size - 1, d.mem, t.queues(), 1) || !t.queues()[0].config().ready) {
    return 0;
  }
  // The driver may kick again before the device is done: serve the queue twice.
  std::lock_guard lock(t.mutex());
  d.block->process_queue(0);
  if (!t.failed()) d.block->process_queue(0);
  // Every chain popped was answered in the used ring, unless the device failed the queue.
  const auto& q = t.queues()[0].config();
  EMBER_FUZZ_ASSERT(static_cast<uint16_t>(q.next_used - q.next_avail) == 0 || t.failed());
  return 0;
}
