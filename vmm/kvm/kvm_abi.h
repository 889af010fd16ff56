// KVM ABI fix-ups for C++: the ioctls whose argument ends in a flexible array.
//
// <linux/kvm.h> declares those arrays with __DECLARE_FLEX_ARRAY, which in C++ wraps them
// in a struct holding an empty struct (size 1, not 0). That moves the array (kvm_cpuid2's
// entries land at offset 12 instead of 8) and changes the size encoded in the ioctl
// number, so KVM rejects the call with EINVAL. These headers have the C layout; the
// entries themselves (kvm_cpuid_entry2, kvm_msr_entry) are unaffected.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>

namespace ember::vmm::kvm_abi {

struct CpuidHeader {  // struct kvm_cpuid2 without its entries
  uint32_t nent;
  uint32_t padding;
};
struct MsrsHeader {  // struct kvm_msrs without its entries
  uint32_t nmsrs;
  uint32_t pad;
};
struct MsrListHeader {  // struct kvm_msr_list without its indices
  uint32_t nmsrs;
};
struct Xsave {  // struct kvm_xsave without `extra` (KVM_GET_XSAVE2 sizes come from the cap)
  uint32_t region[1024];
};

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
inline constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, MsrListHeader);
inline constexpr unsigned long kGetCpuid2 = _IOWR(KVMIO, 0x91, CpuidHeader);
inline constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, Xsave);
inline constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, Xsave);
inline constexpr unsigned long kGetXsave2 = _IOR(KVMIO, 0xcf, Xsave);

// KVM_PRE_FAULT_MEMORY (Linux 6.10+), newer than the <linux/kvm.h> Ember builds against:
// maps guest-physical memory into KVM's page tables ahead, as a fault there would.
inline constexpr int kCapPreFaultMemory = 236;  // KVM_CAP_PRE_FAULT_MEMORY
struct PreFaultMemory {  // struct kvm_pre_fault_memory
  uint64_t gpa;
  uint64_t size;
  uint64_t flags;
  uint64_t padding[5];
};
inline constexpr unsigned long kPreFaultMemory = _IOWR(KVMIO, 0xd5, PreFaultMemory);

// The numbers a C compiler computes from <linux/kvm.h>.
static_assert(kGetSupportedCpuid == 0xC008AE05);
static_assert(kSetCpuid2 == 0x4008AE90);
static_assert(kGetMsrs == 0xC008AE88);
static_assert(kSetMsrs == 0x4008AE89);
static_assert(kGetMsrIndexList == 0xC004AE02);
static_assert(kGetCpuid2 == 0xC008AE91);
static_assert(kGetXsave == 0x9000AEA4);
static_assert(kSetXsave == 0x5000AEA5);
static_assert(kGetXsave2 == 0x9000AECF);
static_assert(kPreFaultMemory == 0xC040AED5);

}  // namespace ember::vmm::kvm_abi
