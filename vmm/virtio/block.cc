// Block: virtio-blk request parsing and file I/O.
#include "vmm/virtio/block.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "vmm/virtio/virtio_spec.h"

namespace ember::vmm::virtio {

namespace {

// Feature bits and request types from the virtio-blk section (5.2).
constexpr uint32_t kBlkFeatureSegMax = 2;
constexpr uint32_t kBlkFeatureRo = 5;
constexpr uint32_t kBlkFeatureFlush = 9;

constexpr uint32_t kTypeIn = 0;
constexpr uint32_t kTypeOut = 1;
constexpr uint32_t kTypeFlush = 4;
constexpr uint32_t kTypeGetId = 8;

constexpr uint8_t kStatusOk = 0;
constexpr uint8_t kStatusIoErr = 1;
constexpr uint8_t kStatusUnsupported = 2;

// Header and status byte take two descriptors of a chain no longer than the queue.
constexpr uint32_t kSegMax = kMaxQueueSize - 2;

struct RequestHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};
static_assert(sizeof(RequestHeader) == 16);

// preadv/pwritev until every byte moved; false on error or end of file.
bool transfer_all(int fd, std::vector<iovec> iov, uint64_t offset, bool to_file) {
  size_t first = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(iov.size() - first);
    const ssize_t n = to_file ? ::pwritev(fd, &iov[first], count, static_cast<off_t>(offset))
                              : ::preadv(fd, &iov[first], count, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    offset += static_cast<uint64_t>(n);
    size_t left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<Block>> Block::open(const BlockConfig& config) {
  const int flags = (config.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  UniqueFd fd(::open(config.path.c_str(), flags));
  if (!fd) return errno_error("open disk image", config.path);
  // lseek rather than fstat so block devices report their size too.
  const off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size < 0) return errno_error("size disk image", config.path);
  std::string serial = config.serial;
  if (serial.empty()) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return errno_error("stat disk image", config.path);
    char buf[kSerialLen + 1];
    std::snprintf(buf, sizeof(buf), "%lx-%lx", static_cast<unsigned long>(st.st_dev),
                  static_cast<unsigned long>(st.st_ino));
    serial = buf;
  }
  if (serial.size() > kSerialLen) serial.resize(kSerialLen);
  return std::unique_ptr<Block>(new Block(std::move(fd), static_cast<uint64_t>(size) / kSectorSize,
                                          config.read_only, std::move(serial)));
}

Block::Block(UniqueFd fd, uint64_t capacity_sectors, bool read_only, std::string serial)
    : fd_(std::move(fd)),
      capacity_sectors_(capacity_sectors),
      read_only_(read_only),
      serial_(std::move(serial)) {
  // struct virtio_blk_config: capacity, size_max (unused), seg_max, geometry, blk_size.
  std::memcpy(&config_[0], &capacity_sectors_, 8);
  std::memcpy(&config_[12], &kSegMax, 4);
  std::memcpy(&config_[20], &kSectorSize, 4);
}

Status Block::restore(const State& state) {
  if (state.capacity_sectors != capacity_sectors_ || state.read_only != read_only_) {
    return make_error("restore virtio-blk", "backing file size or mode differs from snapshot");
  }
  serial_ = state.serial.substr(0, kSerialLen);
  return {};
}

uint32_t Block::device_id() const { return kDeviceIdBlock; }

uint64_t Block::features() const {
  uint64_t f = feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingIndirectDesc) |
               feature_bit(kBlkFeatureSegMax) | feature_bit(kBlkFeatureFlush);
  if (read_only_) f |= feature_bit(kBlkFeatureRo);
  return f;
}

void Block::read_config(uint64_t offset, std::span<uint8_t> data) const {
  read_config_bytes(config_, offset, data);
}

void Block::process_queue(uint16_t index) {
  if (index != 0) return;
  Queue& queue = transport_->queue(0);
  const GuestMemory& mem = transport_->memory();
  bool any = false;
  for (;;) {
    auto chain = queue.pop(mem);
    if (!chain.ok()) return transport_->fail(chain.error());
    if (!chain->has_value()) break;
    const uint32_t written = handle(**chain);
    if (Status s = queue.add_used(mem, (*chain)->head, written); !s.ok()) {
      return transport_->fail(s.error());
    }
    any = true;
  }
  if (any) transport_->signal_used(0);
}

uint32_t Block::handle(const DescriptorChain& chain) {
  // Without a writable byte there is nowhere to put a status: nothing can be done.
  if (chain.writable_len == 0) return 0;
  const GuestMemory& mem = transport_->memory();
  RequestHeader header{};
  ChainCursor in(mem, chain.readable);
  uint8_t status = kStatusIoErr;
  uint64_t data_written = 0;
  if (in.read({reinterpret_cast<uint8_t*>(&header), sizeof(header)}).ok()) {
    status = do_io(chain, header.type, header.sector, &data_written);
  }
  // The status byte is the last writable byte, written after the data.
  ChainCursor out(mem, chain.writable);
  if (!out.skip(chain.writable_len - 1).ok() || !out.write({&status, 1}).ok()) return 0;
  return static_cast<uint32_t>(data_written + 1);
}

uint8_t Block::do_io(const DescriptorChain& chain, uint32_t type, uint64_t sector,
                     uint64_t* data_written) {
  const GuestMemory& mem = transport_->memory();
  ChainCursor in(mem, chain.readable);
  ChainCursor out(mem, chain.writable);
  if (!in.skip(sizeof(RequestHeader)).ok()) return kStatusIoErr;
  const uint64_t out_len = chain.writable_len - 1;  // writable bytes before the status
  switch (type) {
    case kTypeIn:
    case kTypeOut: {
      const bool write = type == kTypeOut;
      if (write && read_only_) return kStatusIoErr;
      const uint64_t len = write ? in.remaining() : out_len;
      if (len % kSectorSize != 0 || sector > capacity_sectors_ ||
          len / kSectorSize > capacity_sectors_ - sector) {
        return kStatusIoErr;
      }
      const uint64_t offset = sector * kSectorSize;
      const bool ok = write ? transfer_all(fd_.get(), in.iovecs(len), offset, true)
                            : transfer_all(fd_.get(), out.iovecs(len), offset, false);
      if (!ok) return kStatusIoErr;
      if (!write) *data_written = len;
      return kStatusOk;
    }
    case kTypeFlush:
      if (!read_only_ && ::fdatasync(fd_.get()) != 0) return kStatusIoErr;
      return kStatusOk;
    case kTypeGetId: {
      std::array<uint8_t, kSerialLen> id{};
      std::memcpy(id.data(), serial_.data(), std::min<size_t>(serial_.size(), kSerialLen));
      const uint64_t n = std::min<uint64_t>(out_len, kSerialLen);
      if (!out.write({id.data(), n}).ok()) return kStatusIoErr;
      *data_written = n;
      return kStatusOk;
    }
    default:
      return kStatusUnsupported;
  }
}

}  // namespace ember::vmm::virtio
