// Registers: long-mode entry state for the boot vCPU.
#include "vmm/arch/regs.h"

#include <cstring>

#include "vmm/boot/gdt.h"
#include "vmm/boot/layout.h"

namespace ember::vmm {

kvm_regs boot_regs(uint64_t entry) {
  kvm_regs regs{};
  regs.rip = entry;
  regs.rsi = layout::kZeroPageAddr;
  regs.rflags = 0x2;
  regs.rsp = kBootStackPointer;
  regs.rbp = kBootStackPointer;
  return regs;
}

void setup_long_mode_sregs(kvm_sregs& sregs) {
  const auto gdt = boot_gdt();
  sregs.gdt.base = layout::kGdtAddr;
  sregs.gdt.limit = static_cast<uint16_t>(sizeof(gdt) - 1);
  sregs.idt.base = layout::kIdtAddr;
  sregs.idt.limit = sizeof(uint64_t) - 1;

  sregs.cs = segment_from_gdt(gdt, kBootCsSelector);
  const kvm_segment data = segment_from_gdt(gdt, kBootDsSelector);
  sregs.ds = data;
  sregs.es = data;
  sregs.fs = data;
  sregs.gs = data;
  sregs.ss = data;
  sregs.tr = segment_from_gdt(gdt, kBootTssSelector);

  sregs.cr3 = layout::kPml4Addr;
  sregs.cr4 |= kCr4Pae;
  sregs.cr0 = (sregs.cr0 & ~(kCr0Cd | kCr0Nw)) | kCr0Pe | kCr0Et | kCr0Pg;
  sregs.efer |= kEferLme | kEferLma;
}

kvm_fpu boot_fpu() {
  kvm_fpu fpu{};
  fpu.fcw = 0x37F;
  fpu.mxcsr = 0x1F80;
  return fpu;
}

uint32_t lapic_reg(const kvm_lapic_state& lapic, uint32_t offset) {
  uint32_t value = 0;
  if (offset % 16 != 0 || offset + sizeof(value) > sizeof(lapic.regs)) return 0;
  std::memcpy(&value, lapic.regs + offset, sizeof(value));
  return value;
}

void set_lapic_reg(kvm_lapic_state& lapic, uint32_t offset, uint32_t value) {
  if (offset % 16 != 0 || offset + sizeof(value) > sizeof(lapic.regs)) return;
  std::memcpy(lapic.regs + offset, &value, sizeof(value));
}

void setup_lapic_lints(kvm_lapic_state& lapic) {
  auto with_mode = [](uint32_t lvt, uint32_t mode) { return (lvt & ~0x700u) | (mode << 8); };
  set_lapic_reg(lapic, kApicLvtLint0,
                with_mode(lapic_reg(lapic, kApicLvtLint0), kApicDeliveryExtInt));
  set_lapic_reg(lapic, kApicLvtLint1, with_mode(lapic_reg(lapic, kApicLvtLint1), kApicDeliveryNmi));
}

}  // namespace ember::vmm
