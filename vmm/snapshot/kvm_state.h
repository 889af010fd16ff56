// Capture and apply of KVM state: the VM's irqchips, PIT and clock, and each vCPU's state.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"
#include "vmm/snapshot/snapshot_state.h"

namespace ember::vmm {

// The MSRs to try on capture: KVM_GET_MSR_INDEX_LIST plus the MSRs Linux guests rely on
// that some hosts leave out of it (MTRRs, PAT, kvmclock, TSC deadline); deduplicated.
std::vector<uint32_t> msrs_to_capture(std::span<const uint32_t> kvm_list);

// Reads every MSR of `indices` that KVM can read for this vCPU, dropping the others.
Result<std::vector<kvm_msr_entry>> read_readable_msrs(const Vcpu& vcpu,
                                                      std::span<const uint32_t> indices);

// Orders MSRs for KVM_SET_MSRS: TSC first (it moves the TSC offset), TSC_DEADLINE last
// (it needs the TSC and the LAPIC's timer mode in place).
std::vector<kvm_msr_entry> order_msrs_for_restore(std::vector<kvm_msr_entry> msrs);

// The vCPU must be out of KVM_RUN (paused, or never run). xsave_size: KVM_CAP_XSAVE2 of
// the VM (0 or <= 4096: plain KVM_GET_XSAVE).
Result<VcpuState> capture_vcpu(const Vcpu& vcpu, std::span<const uint32_t> msr_indices,
                               size_t xsave_size);
// On a fresh vCPU of a VM whose irqchip and VM state are restored. Order: CPUID, MP state,
// regs, sregs, XSAVE, XCRs, debug regs, LAPIC, MSRs, vcpu events. An MSR KVM refuses is
// logged and skipped.
Status apply_vcpu(Vcpu& vcpu, const VcpuState& state);

// With every vCPU paused.
Result<VmState> capture_vm(const Vm& vm);
// After create_irqchip/create_pit2 and before any vCPU state: PIT, clock, irqchips.
Status apply_vm(Vm& vm, const VmState& state);

}  // namespace ember::vmm
