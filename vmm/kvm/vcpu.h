// Vcpu: one KVM vCPU fd and its mmap()ed kvm_run area.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "common/mapped_region.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::vmm {

class Vcpu {
 public:
  Vcpu(UniqueFd fd, MappedRegion run, uint32_t id)
      : fd_(std::move(fd)), run_(std::move(run)), id_(id) {}
  Vcpu(Vcpu&&) = default;
  Vcpu& operator=(Vcpu&&) = default;

  uint32_t id() const { return id_; }
  int fd() const { return fd_.get(); }

  // The shared kvm_run page(s). Valid as long as this Vcpu lives.
  kvm_run* run_data() const { return reinterpret_cast<kvm_run*>(run_.data()); }
  // Size of the kvm_run mapping, for bounds-checking the PIO data offset.
  size_t run_size() const { return run_.size(); }

  // KVM_RUN. An error with code EINTR or EAGAIN means "interrupted": the caller decides
  // whether to stop or to enter again.
  Status run();
  // kvm_run::immediate_exit: when set, the next KVM_RUN returns EINTR at once.
  void set_immediate_exit(bool on) { run_data()->immediate_exit = on ? 1 : 0; }

  Result<kvm_regs> get_regs() const;
  Status set_regs(const kvm_regs& regs);
  Result<kvm_sregs> get_sregs() const;
  Status set_sregs(const kvm_sregs& sregs);
  Result<kvm_fpu> get_fpu() const;
  Status set_fpu(const kvm_fpu& fpu);
  // KVM_SET_MSRS; fails naming the first MSR that KVM refused.
  Status set_msrs(std::span<const kvm_msr_entry> entries);
  // KVM_GET_MSRS for `indices`; fails naming the first MSR that KVM could not read.
  Result<std::vector<kvm_msr_entry>> get_msrs(std::span<const uint32_t> indices) const;
  // KVM_SET_CPUID2.
  Status set_cpuid2(std::span<const kvm_cpuid_entry2> entries);
  Result<kvm_lapic_state> get_lapic() const;
  Status set_lapic(const kvm_lapic_state& lapic);
  Result<kvm_mp_state> get_mp_state() const;
  Status set_mp_state(const kvm_mp_state& state);
  Result<kvm_xcrs> get_xcrs() const;
  Status set_xcrs(const kvm_xcrs& xcrs);
  Result<kvm_debugregs> get_debugregs() const;
  Status set_debugregs(const kvm_debugregs& regs);
  Result<kvm_vcpu_events> get_vcpu_events() const;
  Status set_vcpu_events(const kvm_vcpu_events& events);

  // The XSAVE area: KVM_GET_XSAVE2 with `size` bytes when size > 4096 (the VM's
  // KVM_CAP_XSAVE2 value), else KVM_GET_XSAVE. KVM_SET_XSAVE takes the same bytes.
  Result<std::vector<uint8_t>> get_xsave(size_t size) const;
  Status set_xsave(std::span<const uint8_t> area);
  // KVM_GET_CPUID2: the table set with set_cpuid2.
  Result<std::vector<kvm_cpuid_entry2>> get_cpuid2() const;
  // KVM_GET_MSRS that stops at the first MSR KVM cannot read: fills entries[i].data for
  // i < the returned count.
  Result<size_t> read_msrs(std::span<kvm_msr_entry> entries) const;
  // KVM_SET_MSRS that stops at the first refused MSR; returns how many were written.
  Result<size_t> write_msrs(std::span<const kvm_msr_entry> entries);
  // KVM_PRE_FAULT_MEMORY on [gpa, gpa + size): maps that guest memory into KVM's page
  // tables now, so the guest's first touch of it takes no exit (the VM's
  // kvm_abi::kCapPreFaultMemory says whether KVM can). Retries when interrupted.
  Status pre_fault_memory(uint64_t gpa, uint64_t size);
  // KVM_GET_TSC_KHZ / KVM_SET_TSC_KHZ (KVM_CAP_TSC_CONTROL).
  Result<uint32_t> get_tsc_khz() const;
  Status set_tsc_khz(uint32_t khz);

 private:
  UniqueFd fd_;
  MappedRegion run_;
  uint32_t id_ = 0;
};

}  // namespace ember::vmm
