// Vcpu: KVM vCPU ioctls.
#include "vmm/kvm/vcpu.h"

#include <sys/ioctl.h>

#include <algorithm>
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
EMBER_VCPU_GET(get_xcrs, kvm_xcrs, KVM_GET_XCRS)
EMBER_VCPU_SET(set_xcrs, kvm_xcrs, KVM_SET_XCRS)
EMBER_VCPU_GET(get_debugregs, kvm_debugregs, KVM_GET_DEBUGREGS)
EMBER_VCPU_SET(set_debugregs, kvm_debugregs, KVM_SET_DEBUGREGS)
EMBER_VCPU_GET(get_vcpu_events, kvm_vcpu_events, KVM_GET_VCPU_EVENTS)
EMBER_VCPU_SET(set_vcpu_events, kvm_vcpu_events, KVM_SET_VCPU_EVENTS)

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

Result<std::vector<uint8_t>> Vcpu::get_xsave(size_t size) const {
  const bool big = size > sizeof(kvm_abi::Xsave);
  std::vector<uint64_t> buf((std::max(size, sizeof(kvm_abi::Xsave)) + 7) / 8, 0);
  if (::ioctl(fd_.get(), big ? kvm_abi::kGetXsave2 : kvm_abi::kGetXsave, buf.data()) < 0) {
    return errno_error(big ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE", "vcpu " + std::to_string(id_));
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(buf.data());
  return std::vector<uint8_t>(bytes, bytes + std::max(size, sizeof(kvm_abi::Xsave)));
}

Status Vcpu::set_xsave(std::span<const uint8_t> area) {
  if (area.size() < sizeof(kvm_abi::Xsave)) {
    return make_error("KVM_SET_XSAVE", "vcpu " + std::to_string(id_) + ": area of " +
                                           std::to_string(area.size()) + " bytes is too small");
  }
  // KVM reads as many bytes as this host's KVM_CAP_XSAVE2 says, which may exceed what the
  // snapshot's host saved: pad with zeros (XSTATE_BV leaves those components off).
  constexpr size_t kPaddedXsave = 64 * 1024;
  std::vector<uint64_t> buf((std::max(area.size(), kPaddedXsave) + 7) / 8, 0);
  std::memcpy(buf.data(), area.data(), area.size());
  if (::ioctl(fd_.get(), kvm_abi::kSetXsave, buf.data()) < 0) {
    return errno_error("KVM_SET_XSAVE", "vcpu " + std::to_string(id_));
  }
  return {};
}

Result<std::vector<kvm_cpuid_entry2>> Vcpu::get_cpuid2() const {
  using Header = kvm_abi::CpuidHeader;
  constexpr uint32_t kMaxEntries = 512;
  auto buf = flex_buffer<Header, kvm_cpuid_entry2>(kMaxEntries);
  reinterpret_cast<Header*>(buf.data())->nent = kMaxEntries;
  if (::ioctl(fd_.get(), kvm_abi::kGetCpuid2, buf.data()) < 0) {
    return errno_error("KVM_GET_CPUID2", "vcpu " + std::to_string(id_));
  }
  uint32_t n = reinterpret_cast<Header*>(buf.data())->nent;
  if (n > kMaxEntries) return make_error("KVM_GET_CPUID2", "kernel reported too many entries");
  const kvm_cpuid_entry2* entries = flex_entries<Header, kvm_cpuid_entry2>(buf);
  // Older kernels (6.1) write nent back only on failure: drop the zeroed tail they leave.
  // No real entry is all zero (leaf 0 reports the highest leaf in EAX).
  static const kvm_cpuid_entry2 kZero{};
  while (n > 0 && std::memcmp(&entries[n - 1], &kZero, sizeof(kZero)) == 0) --n;
  return std::vector<kvm_cpuid_entry2>(entries, entries + n);
}

Result<size_t> Vcpu::read_msrs(std::span<kvm_msr_entry> entries) const {
  using Header = kvm_abi::MsrsHeader;
  auto buf = flex_buffer<Header, kvm_msr_entry>(entries.size());
  reinterpret_cast<Header*>(buf.data())->nmsrs = static_cast<uint32_t>(entries.size());
  kvm_msr_entry* dst = flex_entries<Header, kvm_msr_entry>(buf);
  std::memcpy(dst, entries.data(), entries.size_bytes());
  const int n = ::ioctl(fd_.get(), kvm_abi::kGetMsrs, buf.data());
  if (n < 0) return errno_error("KVM_GET_MSRS", "vcpu " + std::to_string(id_));
  const size_t got = std::min(static_cast<size_t>(n), entries.size());
  std::memcpy(entries.data(), dst, got * sizeof(kvm_msr_entry));
  return got;
}

Result<size_t> Vcpu::write_msrs(std::span<const kvm_msr_entry> entries) {
  using Header = kvm_abi::MsrsHeader;
  auto buf = flex_buffer<Header, kvm_msr_entry>(entries.size());
  reinterpret_cast<Header*>(buf.data())->nmsrs = static_cast<uint32_t>(entries.size());
  std::memcpy(flex_entries<Header, kvm_msr_entry>(buf), entries.data(), entries.size_bytes());
  const int n = ::ioctl(fd_.get(), kvm_abi::kSetMsrs, buf.data());
  if (n < 0) return errno_error("KVM_SET_MSRS", "vcpu " + std::to_string(id_));
  return std::min(static_cast<size_t>(n), entries.size());
}

Status Vcpu::pre_fault_memory(uint64_t gpa, uint64_t size) {
  kvm_abi::PreFaultMemory range = {};
  range.gpa = gpa;
  range.size = size;
  // KVM advances gpa and shrinks size as it goes, and stops early on a pending signal.
  while (range.size > 0) {
    if (::ioctl(fd_.get(), kvm_abi::kPreFaultMemory, &range) < 0 && errno != EINTR &&
        errno != EAGAIN) {
      char where[64];
      std::snprintf(where, sizeof where, "vcpu %u, guest address 0x%llx", id_,
                    static_cast<unsigned long long>(range.gpa));
      return errno_error("KVM_PRE_FAULT_MEMORY", where);
    }
  }
  return {};
}

Result<uint32_t> Vcpu::get_tsc_khz() const {
  const int khz = ::ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
  if (khz < 0) return errno_error("KVM_GET_TSC_KHZ", "vcpu " + std::to_string(id_));
  return static_cast<uint32_t>(khz);
}

Status Vcpu::set_tsc_khz(uint32_t khz) {
  if (::ioctl(fd_.get(), KVM_SET_TSC_KHZ, static_cast<unsigned long>(khz)) < 0) {
    return errno_error("KVM_SET_TSC_KHZ", "vcpu " + std::to_string(id_));
  }
  return {};
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
