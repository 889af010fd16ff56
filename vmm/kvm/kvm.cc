// Kvm: the /dev/kvm system ioctls.
#include "vmm/kvm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "vmm/kvm/kvm_abi.h"

namespace ember::vmm {
namespace {

struct RequiredCap {
  int cap;
  const char* name;
};

constexpr RequiredCap kRequiredCaps[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
};

// Upper bound on the entries asked for; KVM reports E2BIG below its real count.
constexpr uint32_t kMaxCpuidEntries = 512;
constexpr uint32_t kMaxMsrIndices = 4096;

}  // namespace

Result<Kvm> Kvm::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    Error e = errno_error("open " + path);
    if (err == ENOENT) {
      e.context =
          "KVM is not available: load kvm_intel or kvm_amd (modprobe), or run on a host "
          "with hardware virtualization (nested virtualization on cloud VMs)";
    } else if (err == EACCES || err == EPERM) {
      e.context = "no permission: run as root or add this user to the group owning " + path;
    }
    return e;
  }
  const int version = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    return make_error("KVM_GET_API_VERSION", "expected " + std::to_string(KVM_API_VERSION) +
                                                 ", host has " + std::to_string(version));
  }
  for (const RequiredCap& rc : kRequiredCaps) {
    if (::ioctl(fd.get(), KVM_CHECK_EXTENSION, rc.cap) <= 0) {
      return make_error("KVM_CHECK_EXTENSION", std::string("host KVM lacks ") + rc.name);
    }
  }
  const int mmap_size = ::ioctl(fd.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (mmap_size < static_cast<int>(sizeof(kvm_run))) {
    return errno_error("KVM_GET_VCPU_MMAP_SIZE", "got " + std::to_string(mmap_size));
  }
  return Kvm(std::move(fd), static_cast<size_t>(mmap_size));
}

int Kvm::check_extension(int capability) const {
  const int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

Result<std::vector<kvm_cpuid_entry2>> Kvm::supported_cpuid() const {
  // Header then entries, in 8-byte aligned storage (see kvm_abi.h for why not kvm_cpuid2).
  using Header = kvm_abi::CpuidHeader;
  static_assert(sizeof(Header) % alignof(kvm_cpuid_entry2) == 0);
  const size_t bytes = sizeof(Header) + kMaxCpuidEntries * sizeof(kvm_cpuid_entry2);
  std::vector<uint64_t> buf((bytes + 7) / 8, 0);
  auto* header = reinterpret_cast<Header*>(buf.data());
  header->nent = kMaxCpuidEntries;
  if (::ioctl(fd_.get(), kvm_abi::kGetSupportedCpuid, buf.data()) < 0) {
    return errno_error("KVM_GET_SUPPORTED_CPUID");
  }
  if (header->nent > kMaxCpuidEntries) {
    return make_error("KVM_GET_SUPPORTED_CPUID", "kernel reported too many entries");
  }
  std::vector<kvm_cpuid_entry2> entries(header->nent);
  std::memcpy(entries.data(), reinterpret_cast<const uint8_t*>(buf.data()) + sizeof(Header),
              entries.size() * sizeof(kvm_cpuid_entry2));
  return entries;
}

Result<std::vector<uint32_t>> Kvm::msr_index_list() const {
  using Header = kvm_abi::MsrListHeader;
  const size_t bytes = sizeof(Header) + kMaxMsrIndices * sizeof(uint32_t);
  std::vector<uint64_t> buf((bytes + 7) / 8, 0);
  auto* header = reinterpret_cast<Header*>(buf.data());
  header->nmsrs = kMaxMsrIndices;
  if (::ioctl(fd_.get(), kvm_abi::kGetMsrIndexList, buf.data()) < 0) {
    return errno_error("KVM_GET_MSR_INDEX_LIST");
  }
  if (header->nmsrs > kMaxMsrIndices) {
    return make_error("KVM_GET_MSR_INDEX_LIST", "kernel reported too many MSRs");
  }
  std::vector<uint32_t> indices(header->nmsrs);
  std::memcpy(indices.data(), reinterpret_cast<const uint8_t*>(buf.data()) + sizeof(Header),
              indices.size() * sizeof(uint32_t));
  return indices;
}

Result<Vm> Kvm::create_vm() const {
  // Retry on EINTR: VM creation can be interrupted while the kernel allocates.
  int fd = -1;
  do {
    fd = ::ioctl(fd_.get(), KVM_CREATE_VM, 0);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno_error("KVM_CREATE_VM");
  return Vm(UniqueFd(fd), vcpu_mmap_size_);
}

}  // namespace ember::vmm
