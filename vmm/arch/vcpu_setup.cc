// vCPU setup: CPUID, MSRs, LAPIC and entry registers through the Vcpu wrapper.
#include "vmm/arch/vcpu_setup.h"

#include "vmm/arch/cpuid.h"
#include "vmm/arch/msrs.h"
#include "vmm/arch/regs.h"

namespace ember::vmm {

Status setup_vcpu(Vcpu& vcpu, const VcpuSetup& setup) {
  CpuidOptions options;
  options.cpu_index = vcpu.id();
  options.cpu_count = setup.cpu_count;
  options.tsc_deadline = setup.tsc_deadline;
  EMBER_CHECK(vcpu.set_cpuid2(build_vcpu_cpuid(setup.supported_cpuid, options)));
  EMBER_CHECK(setup_boot_msrs(vcpu));

  EMBER_TRY(kvm_lapic_state lapic, vcpu.get_lapic());
  setup_lapic_lints(lapic);
  EMBER_CHECK(vcpu.set_lapic(lapic));

  if (vcpu.id() != 0) return {};
  EMBER_CHECK(vcpu.set_regs(boot_regs(setup.entry)));
  EMBER_TRY(kvm_sregs sregs, vcpu.get_sregs());
  setup_long_mode_sregs(sregs);
  EMBER_CHECK(vcpu.set_sregs(sregs));
  return vcpu.set_fpu(boot_fpu());
}

}  // namespace ember::vmm
