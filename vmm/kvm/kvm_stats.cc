// KvmStats: the stats file is a header, an id string, descriptors (each followed by its
// name), and a data block of u64 words (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD).
#include "vmm/kvm/kvm_stats.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace ember::vmm {
namespace {

// struct kvm_stats_desc without its name: flags, exponent, size, offset, bucket_size.
constexpr size_t kDescFixedSize = 16;
constexpr uint32_t kMaxDescriptors = 4096;
constexpr uint32_t kMaxNameSize = 256;

Error stats_error(const std::string& what) { return make_error("KVM statistics", what); }

Status read_exact(int fd, void* out, size_t len, uint64_t offset) {
  size_t got = 0;
  while (got < len) {
    const ssize_t n = ::pread(fd, static_cast<char*>(out) + got, len - got,
                              static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("KVM statistics", "read the stats file");
    if (n == 0) return stats_error("the stats file ends early");
    got += static_cast<size_t>(n);
  }
  return {};
}

template <typename T>
T field_at(const std::vector<uint8_t>& bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof(v));
  return v;
}

}  // namespace

Result<KvmStats> KvmStats::open(int vm_or_vcpu_fd) {
  const int fd = ::ioctl(vm_or_vcpu_fd, KVM_GET_STATS_FD, nullptr);
  if (fd < 0) return errno_error("KVM_GET_STATS_FD", "this kernel may lack binary statistics");
  return from_file(UniqueFd(fd));
}

Result<KvmStats> KvmStats::from_file(UniqueFd stats_fd) {
  kvm_stats_header header{};
  EMBER_CHECK(read_exact(stats_fd.get(), &header, sizeof(header), 0));
  if (header.num_desc > kMaxDescriptors || header.name_size == 0 ||
      header.name_size > kMaxNameSize) {
    return stats_error("implausible header (" + std::to_string(header.num_desc) +
                       " descriptors, names of " + std::to_string(header.name_size) + " bytes)");
  }
  const size_t desc_size = kDescFixedSize + header.name_size;
  std::vector<uint8_t> descs(desc_size * header.num_desc);
  EMBER_CHECK(read_exact(stats_fd.get(), descs.data(), descs.size(), header.desc_offset));

  KvmStats stats;
  stats.data_offset_ = header.data_offset;
  for (uint32_t i = 0; i < header.num_desc; ++i) {
    const size_t at = i * desc_size;
    const auto flags = field_at<uint32_t>(descs, at);
    const auto size = field_at<uint16_t>(descs, at + 6);
    const auto offset = field_at<uint32_t>(descs, at + 8);
    if (offset % 8 != 0) return stats_error("a statistic is not u64-aligned");
    const uint32_t first = offset / 8;
    stats.data_words_ = std::max(stats.data_words_, first + size);
    const uint32_t type = flags & KVM_STATS_TYPE_MASK;
    if (size != 1 || type > KVM_STATS_TYPE_PEAK) continue;  // a histogram
    const char* name = reinterpret_cast<const char*>(descs.data() + at + kDescFixedSize);
    stats.fields_.push_back({std::string(name, strnlen(name, header.name_size)), first});
  }
  stats.fd_ = std::move(stats_fd);
  return stats;
}

Result<std::map<std::string, uint64_t>> KvmStats::read() const {
  std::vector<uint64_t> data(data_words_);
  EMBER_CHECK(read_exact(fd_.get(), data.data(), data.size() * 8, data_offset_));
  std::map<std::string, uint64_t> out;
  for (const Field& f : fields_) out[f.name] = data[f.index];
  return out;
}

void add_stats(std::map<std::string, uint64_t>& into, const std::map<std::string, uint64_t>& from) {
  for (const auto& [name, value] : from) into[name] += value;
}

}  // namespace ember::vmm
