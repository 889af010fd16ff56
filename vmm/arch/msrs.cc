// MSRs: boot values and their installation.
#include "vmm/arch/msrs.h"

#include <cstdio>

#include "vmm/logger.h"

namespace ember::vmm {

std::vector<kvm_msr_entry> boot_msr_entries() {
  auto entry = [](uint32_t index, uint64_t data) {
    kvm_msr_entry e{};
    e.index = index;
    e.data = data;
    return e;
  };
  return {
      entry(kMsrSysenterCs, 0),
      entry(kMsrSysenterEsp, 0),
      entry(kMsrSysenterEip, 0),
      entry(kMsrStar, 0),
      entry(kMsrCstar, 0),
      entry(kMsrKernelGsBase, 0),
      entry(kMsrSyscallMask, 0),
      entry(kMsrLstar, 0),
      entry(kMsrTsc, 0),
      entry(kMsrMiscEnable, kMiscEnableFastStrings),
      entry(kMsrMtrrDefType, kMtrrEnable | kMtrrTypeWriteBack),
  };
}

Status setup_boot_msrs(Vcpu& vcpu) {
  const std::vector<kvm_msr_entry> entries = boot_msr_entries();
  if (vcpu.set_msrs(entries).ok()) return {};
  // Some MSR was refused: set them one at a time to find out which, and carry on.
  for (const kvm_msr_entry& e : entries) {
    Status s = vcpu.set_msrs({&e, 1});
    if (!s.ok()) {
      if (s.error().code != 0) return s;  // the ioctl itself failed
      char buf[96];
      std::snprintf(buf, sizeof(buf), "vcpu %u: KVM refused MSR 0x%x; left at its default",
                    vcpu.id(), e.index);
      log_warn(buf);
    }
  }
  return {};
}

}  // namespace ember::vmm
