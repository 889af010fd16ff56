// MSRs: the model-specific registers a Linux guest expects to find initialised at boot.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "vmm/kvm/vcpu.h"

namespace ember::vmm {

inline constexpr uint32_t kMsrTsc = 0x10;
inline constexpr uint32_t kMsrSysenterCs = 0x174;
inline constexpr uint32_t kMsrSysenterEsp = 0x175;
inline constexpr uint32_t kMsrSysenterEip = 0x176;
inline constexpr uint32_t kMsrMiscEnable = 0x1A0;
inline constexpr uint32_t kMsrMtrrDefType = 0x2FF;
inline constexpr uint32_t kMsrStar = 0xC000'0081;
inline constexpr uint32_t kMsrLstar = 0xC000'0082;
inline constexpr uint32_t kMsrCstar = 0xC000'0083;
inline constexpr uint32_t kMsrSyscallMask = 0xC000'0084;
inline constexpr uint32_t kMsrKernelGsBase = 0xC000'0102;

inline constexpr uint64_t kMiscEnableFastStrings = 1;
inline constexpr uint64_t kMtrrEnable = 1ULL << 11;
inline constexpr uint64_t kMtrrTypeWriteBack = 6;

// SYSENTER/SYSCALL MSRs, KERNEL_GS_BASE and TSC zeroed, MISC_ENABLE with fast strings,
// MTRRs enabled with write-back as the default memory type.
std::vector<kvm_msr_entry> boot_msr_entries();

// Sets boot_msr_entries() on `vcpu`. An MSR that KVM refuses is skipped with a warning
// (hosts differ in what they emulate); a failing ioctl is an error.
Status setup_boot_msrs(Vcpu& vcpu);

}  // namespace ember::vmm
