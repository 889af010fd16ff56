// CPUID: per-vCPU entries derived from what KVM supports (APIC IDs, topology, hypervisor bit).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

namespace ember::vmm {

inline constexpr uint32_t kCpuidLeafFeatures = 0x1;
inline constexpr uint32_t kCpuidLeafCacheParams = 0x4;
inline constexpr uint32_t kCpuidLeafTopology = 0xB;
inline constexpr uint32_t kCpuid1EcxTscDeadline = 1u << 24;
inline constexpr uint32_t kCpuid1EcxHypervisor = 1u << 31;
inline constexpr uint32_t kCpuid1EdxHtt = 1u << 28;

struct CpuidOptions {
  uint32_t cpu_index = 0;  // also the APIC ID
  uint32_t cpu_count = 1;
  bool tsc_deadline = false;  // KVM_CAP_TSC_DEADLINE_TIMER: KVM emulates it but does not list it
};

// The CPUID table for one vCPU: KVM's supported entries with leaf 1 EBX carrying the APIC
// ID, logical count and CLFLUSH size, the hypervisor bit set, leaf 0xB describing one
// thread per core and cpu_count cores with x2APIC ID = cpu_index, leaf 4's sharing fields
// matching that topology. KVM's paravirt leaves (0x40000000...) are kept as they are.
std::vector<kvm_cpuid_entry2> build_vcpu_cpuid(std::span<const kvm_cpuid_entry2> supported,
                                               const CpuidOptions& options);

// The entry for (function, index), or nullptr.
const kvm_cpuid_entry2* find_cpuid(std::span<const kvm_cpuid_entry2> entries, uint32_t function,
                                   uint32_t index = 0);

}  // namespace ember::vmm
