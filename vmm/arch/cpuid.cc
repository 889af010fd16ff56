// CPUID: per-vCPU adjustments of KVM's supported CPUID.
#include "vmm/arch/cpuid.h"

namespace ember::vmm {
namespace {

// Bits needed to number `count` items (ceil(log2(count))).
uint32_t id_bits(uint32_t count) {
  uint32_t bits = 0;
  while ((1u << bits) < count) ++bits;
  return bits;
}

void patch_leaf1(kvm_cpuid_entry2& e, const CpuidOptions& o) {
  constexpr uint32_t kClflushLines = 8;  // 8 * 8 = 64-byte lines
  e.ebx =
      (o.cpu_index << 24) | ((o.cpu_count & 0xFF) << 16) | (kClflushLines << 8) | (e.ebx & 0xFF);
  e.ecx |= kCpuid1EcxHypervisor;
  if (o.tsc_deadline) e.ecx |= kCpuid1EcxTscDeadline;
  if (o.cpu_count > 1) {
    e.edx |= kCpuid1EdxHtt;
  } else {
    e.edx &= ~kCpuid1EdxHtt;
  }
}

void patch_leaf4(kvm_cpuid_entry2& e, const CpuidOptions& o) {
  const uint32_t cache_type = e.eax & 0x1F;
  if (cache_type == 0) return;  // no more caches
  const uint32_t level = (e.eax >> 5) & 0x7;
  const uint32_t sharing = level >= 3 ? o.cpu_count - 1 : 0;
  const uint32_t cores = (o.cpu_count - 1) & 0x3F;
  e.eax = (e.eax & 0x3FFF) | ((sharing & 0xFFF) << 14) | (cores << 26);
}

void patch_leaf_b(kvm_cpuid_entry2& e, const CpuidOptions& o) {
  constexpr uint32_t kLevelSmt = 1;
  constexpr uint32_t kLevelCore = 2;
  e.edx = o.cpu_index;
  switch (e.index) {
    case 0:  // one thread per core
      e.eax = 0;
      e.ebx = 1;
      e.ecx = (kLevelSmt << 8) | e.index;
      break;
    case 1:  // cpu_count cores per package
      e.eax = id_bits(o.cpu_count);
      e.ebx = o.cpu_count;
      e.ecx = (kLevelCore << 8) | e.index;
      break;
    default:  // terminates the enumeration
      e.eax = 0;
      e.ebx = 0;
      e.ecx = e.index;
      break;
  }
}

}  // namespace

std::vector<kvm_cpuid_entry2> build_vcpu_cpuid(std::span<const kvm_cpuid_entry2> supported,
                                               const CpuidOptions& options) {
  std::vector<kvm_cpuid_entry2> out(supported.begin(), supported.end());
  for (kvm_cpuid_entry2& e : out) {
    switch (e.function) {
      case kCpuidLeafFeatures: patch_leaf1(e, options); break;
      case kCpuidLeafCacheParams: patch_leaf4(e, options); break;
      case kCpuidLeafTopology: patch_leaf_b(e, options); break;
      default: break;
    }
  }
  return out;
}

const kvm_cpuid_entry2* find_cpuid(std::span<const kvm_cpuid_entry2> entries, uint32_t function,
                                   uint32_t index) {
  for (const kvm_cpuid_entry2& e : entries) {
    if (e.function != function) continue;
    if ((e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e.index != index) continue;
    return &e;
  }
  return nullptr;
}

}  // namespace ember::vmm
