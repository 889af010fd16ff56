// vCPU setup: applies CPUID, MSRs, LAPIC and (on the boot vCPU) the long-mode entry state.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>

#include "common/result.h"
#include "vmm/kvm/vcpu.h"

namespace ember::vmm {

struct VcpuSetup {
  uint32_t cpu_count = 1;
  uint64_t entry = 0;  // kernel entry point (used on vCPU 0 only)
  bool tsc_deadline = false;
  std::span<const kvm_cpuid_entry2> supported_cpuid;
};

// Every vCPU gets its CPUID, the boot MSRs and LINT0/LINT1 programmed. vCPU 0 (the BSP)
// also gets registers, sregs and FPU for the 64-bit entry; the others stay in
// KVM_MP_STATE_UNINITIALIZED until the guest wakes them with INIT/SIPI through the
// in-kernel LAPIC, which resets their registers anyway.
Status setup_vcpu(Vcpu& vcpu, const VcpuSetup& setup);

}  // namespace ember::vmm
