// Vcpu: KVM vCPU ioctls.
#include "vmm/kvm/vcpu.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "vmm/kvm/kvm_abi.h"

namespace ember::vmm {
namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Header followed by `count` entries in 8-byte aligned storage (see kvm_abi.h).
template <typename Header, typename Entry>
std::vector<uint64_t> flex_buffer(size_t count) {
  static_assert(sizeof(Header) % alignof(Entry) == 0);
  const size_t bytes = sizeof(Header) + count * sizeof(Entry);
  return std::vector<uint64_t>((bytes + 7) / 8, 0);
}

template <typename Header, typename Entry>
Entry* flex_entries(std::vector<uint64_t>& buf) {
  return reinterpret_cast<Entry*>(reinterpret_cast<uint8_t*>(buf.data()) + sizeof(Header));
}

}  // namespace

Status Vcpu::run() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
    return errno_error("KVM_RUN", "vcpu " + std::to_string(id_));
  }
  return {};
}

// Plain get/set pairs: same shape, different ioctl and struct.
#define EMBER_VCPU_GET(method, type, request)                      \
  Result<type> Vcpu::method() const {                              \
    type value{};                                                  \
    if (::ioctl(fd_.get(), request, &value) < 0) {                 \
      return errno_error(#request, "vcpu " + std::to_string(id_)); \
    }                                                              \
    return value;                                                  \
  }
#define EMBER_VCPU_SET(method, type, request)                      \
  Status Vcpu::method(const type& value) {                         \
    if (::ioctl(fd_.get(), request, &value) < 0) {                 \
      return errno_error(#request, "vcpu " + std::to_string(id_)); \
    }                                                              \
    return {};                                                     \
  }

EMBER_VCPU_GET(get_regs, kvm_regs, KVM_GET_REGS)
EMBER_VCPU_SET(set_regs, kvm_regs, KVM_SET_REGS)
EMBER_VCPU_GET(get_sregs, kvm_sregs, KVM_GET_SREGS)
EMBER_VCPU_SET(set_sregs, kvm_sregs, KVM_SET_SREGS)
EMBER_VCPU_GET(get_fpu, kvm_fpu, KVM_GET_FPU)
EMBER_VCPU_SET(set_fpu, kvm_fpu, KVM_SET_FPU)
EMBER_VCPU_GET(get_lapic, kvm_lapic_state, KVM_GET_LAPIC)
EMBER_VCPU_SET(set_lapic, kvm_lapic_state, KVM_SET_LAPIC)
EMBER_VCPU_GET(get_mp_state, kvm_mp_state, KVM_GET_MP_STATE)
EMBER_VCPU_SET(set_mp_state, kvm_mp_state, KVM_SET_MP_STATE)

#undef EMBER_VCPU_GET
#undef EMBER_VCPU_SET

Status Vcpu::set_msrs(std::span<const kvm_msr_entry> entries) {
  using Header = kvm_abi::MsrsHeader;
  auto buf = flex_buffer<Header, kvm_msr_entry>(entries.size());
  reinterpret_cast<Header*>(buf.data())->nmsrs = static_cast<uint32_t>(entries.size());
  std::memcpy(flex_entries<Header, kvm_msr_entry>(buf), entries.data(), entries.size_bytes());
  const int n = ::ioctl(fd_.get(), kvm_abi::kSetMsrs, buf.data());
  if (n < 0) return errno_error("KVM_SET_MSRS", "vcpu " + std::to_string(id_));
  if (static_cast<size_t>(n) != entries.size()) {
    return make_error("KVM_SET_MSRS", "vcpu " + std::to_string(id_) + ": KVM refused MSR " +
                                          hex(entries[static_cast<size_t>(n)].index));
  }
  return {};
}

Result<std::vector<kvm_msr_entry>> Vcpu::get_msrs(std::span<const uint32_t> indices) const {
  using Header = kvm_abi::MsrsHeader;
  auto buf = flex_buffer<Header, kvm_msr_entry>(indices.size());
  reinterpret_cast<Header*>(buf.data())->nmsrs = static_cast<uint32_t>(indices.size());
  kvm_msr_entry* entries = flex_entries<Header, kvm_msr_entry>(buf);
  for (size_t i = 0; i < indices.size(); ++i) entries[i].index = indices[i];
  const int n = ::ioctl(fd_.get(), kvm_abi::kGetMsrs, buf.data());
  if (n < 0) return errno_error("KVM_GET_MSRS", "vcpu " + std::to_string(id_));
  if (static_cast<size_t>(n) != indices.size()) {
    return make_error("KVM_GET_MSRS", "vcpu " + std::to_string(id_) + ": KVM cannot read MSR " +
                                          hex(indices[static_cast<size_t>(n)]));
  }
  return std::vector<kvm_msr_entry>(entries, entries + indices.size());
}

Status Vcpu::set_cpuid2(std::span<const kvm_cpuid_entry2> entries) {
  using Header = kvm_abi::CpuidHeader;
  auto buf = flex_buffer<Header, kvm_cpuid_entry2>(entries.size());
  reinterpret_cast<Header*>(buf.data())->nent = static_cast<uint32_t>(entries.size());
  std::memcpy(flex_entries<Header, kvm_cpuid_entry2>(buf), entries.data(), entries.size_bytes());
  if (::ioctl(fd_.get(), kvm_abi::kSetCpuid2, buf.data()) < 0) {
    return errno_error("KVM_SET_CPUID2", "vcpu " + std::to_string(id_));
  }
  return {};
}

}  // namespace ember::vmm
