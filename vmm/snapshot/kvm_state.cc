// Capture and apply of KVM state, in an order KVM's dependencies allow.
#include "vmm/snapshot/kvm_state.h"

#include <algorithm>
#include <cstdio>

#include "vmm/logger.h"

namespace ember::vmm {
namespace {

constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrTscDeadline = 0x6E0;

// Linux-relevant MSRs that KVM_GET_MSR_INDEX_LIST may not list on every host.
constexpr uint32_t kExtraMsrs[] = {
    kMsrTsc,    0x3B /* TSC_ADJUST */, 0x1A0 /* MISC_ENABLE */, 0x277 /* PAT */,
    0x2FF /* MTRR def type */, 0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C,
    0x26D, 0x26E, 0x26F /* fixed MTRRs */, kMsrTscDeadline,
    0x11, 0x12 /* kvmclock (old) */, 0x4B564D00, 0x4B564D01 /* kvmclock */,
    0x4B564D02 /* async PF */, 0x4B564D03 /* steal time */, 0x4B564D04 /* PV EOI */,
};

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::vector<uint32_t> msrs_to_capture(std::span<const uint32_t> kvm_list) {
  std::vector<uint32_t> out(kvm_list.begin(), kvm_list.end());
  out.insert(out.end(), std::begin(kExtraMsrs), std::end(kExtraMsrs));
  for (uint32_t i = 0x200; i < 0x210; ++i) out.push_back(i);  // variable MTRRs
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::vector<kvm_msr_entry>> read_readable_msrs(const Vcpu& vcpu,
                                                      std::span<const uint32_t> indices) {
  std::vector<kvm_msr_entry> all(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) all[i].index = indices[i];
  // KVM stops at the first MSR it cannot read: keep what it read, drop that one, go on.
  std::vector<kvm_msr_entry> out;
  std::span<kvm_msr_entry> rest(all);
  while (!rest.empty()) {
    EMBER_TRY(size_t n, vcpu.read_msrs(rest));
    out.insert(out.end(), rest.begin(), rest.begin() + static_cast<ptrdiff_t>(n));
    rest = rest.subspan(std::min(n + 1, rest.size()));
  }
  return out;
}

std::vector<kvm_msr_entry> order_msrs_for_restore(std::vector<kvm_msr_entry> msrs) {
  auto rank = [](const kvm_msr_entry& e) {
    return e.index == kMsrTsc ? 0 : e.index == kMsrTscDeadline ? 2 : 1;
  };
  std::stable_sort(msrs.begin(), msrs.end(),
                   [&](const kvm_msr_entry& a, const kvm_msr_entry& b) { return rank(a) < rank(b); });
  return msrs;
}

Result<VcpuState> capture_vcpu(const Vcpu& vcpu, std::span<const uint32_t> msr_indices,
                               size_t xsave_size) {
  VcpuState s;
  s.id = vcpu.id();
  EMBER_TRY(s.mp_state, vcpu.get_mp_state());
  EMBER_TRY(s.regs, vcpu.get_regs());
  EMBER_TRY(s.sregs, vcpu.get_sregs());
  EMBER_TRY(s.xsave, vcpu.get_xsave(xsave_size));
  EMBER_TRY(s.xcrs, vcpu.get_xcrs());
  EMBER_TRY(s.debugregs, vcpu.get_debugregs());
  EMBER_TRY(s.lapic, vcpu.get_lapic());
  EMBER_TRY(s.cpuid, vcpu.get_cpuid2());
  EMBER_TRY(s.msrs, read_readable_msrs(vcpu, msr_indices));
  auto khz = vcpu.get_tsc_khz();
  s.tsc_khz = khz.ok() ? *khz : 0;
  // Last: pending exceptions and interrupts as they are after everything else was read.
  EMBER_TRY(s.events, vcpu.get_vcpu_events());
  return s;
}

Status apply_vcpu(Vcpu& vcpu, const VcpuState& s) {
  EMBER_CHECK(vcpu.set_cpuid2(s.cpuid));
  if (s.tsc_khz != 0) {
    auto here = vcpu.get_tsc_khz();
    if (here.ok() && *here != s.tsc_khz) {
      // Without scaling the guest's TSC would run at the wrong rate.
      Status st = vcpu.set_tsc_khz(s.tsc_khz);
      if (!st.ok()) {
        log_warn("vcpu " + std::to_string(vcpu.id()) + ": snapshot TSC is " +
                 std::to_string(s.tsc_khz) + " kHz, this host " + std::to_string(*here) +
                 " kHz and cannot scale: " + st.error().message());
      }
    }
  }
  EMBER_CHECK(vcpu.set_mp_state(s.mp_state));
  EMBER_CHECK(vcpu.set_regs(s.regs));
  EMBER_CHECK(vcpu.set_sregs(s.sregs));
  EMBER_CHECK(vcpu.set_xsave(s.xsave));
  EMBER_CHECK(vcpu.set_xcrs(s.xcrs));
  EMBER_CHECK(vcpu.set_debugregs(s.debugregs));
  EMBER_CHECK(vcpu.set_lapic(s.lapic));
  const std::vector<kvm_msr_entry> msrs = order_msrs_for_restore(s.msrs);
  std::span<const kvm_msr_entry> rest(msrs);
  while (!rest.empty()) {
    EMBER_TRY(size_t n, vcpu.write_msrs(rest));
    if (n < rest.size()) {
      log_warn("vcpu " + std::to_string(vcpu.id()) + ": KVM refused MSR " +
               hex(rest[n].index) + " on restore; left at its default");
    }
    rest = rest.subspan(std::min(n + 1, rest.size()));
  }
  return vcpu.set_vcpu_events(s.events);
}

Result<VmState> capture_vm(const Vm& vm) {
  VmState s;
  EMBER_TRY(s.pic_master, vm.get_irqchip(KVM_IRQCHIP_PIC_MASTER));
  EMBER_TRY(s.pic_slave, vm.get_irqchip(KVM_IRQCHIP_PIC_SLAVE));
  EMBER_TRY(s.ioapic, vm.get_irqchip(KVM_IRQCHIP_IOAPIC));
  EMBER_TRY(s.pit, vm.get_pit2());
  EMBER_TRY(s.clock, vm.get_clock());
  // KVM_SET_CLOCK takes no TSC_STABLE flag, and REALTIME/HOST_TSC would make the restored
  // clock jump by the wall time since the snapshot: the guest continues where it stopped.
  s.clock.flags = 0;
  s.clock.realtime = 0;
  s.clock.host_tsc = 0;
  return s;
}

Status apply_vm(Vm& vm, const VmState& s) {
  EMBER_CHECK(vm.set_pit2(s.pit));
  kvm_clock_data clock = s.clock;
  clock.flags = 0;
  EMBER_CHECK(vm.set_clock(clock));
  EMBER_CHECK(vm.set_irqchip(s.pic_master));
  EMBER_CHECK(vm.set_irqchip(s.pic_slave));
  return vm.set_irqchip(s.ioapic);
}

}  // namespace ember::vmm
