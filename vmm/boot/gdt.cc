// GDT: boot descriptors and their translation into KVM segment registers.
#include "vmm/boot/gdt.h"

#include "vmm/boot/layout.h"

namespace ember::vmm {

std::array<uint64_t, kGdtEntries> boot_gdt() {
  return {
      0,
      0,
      gdt_entry(0xA09B, 0, 0xFFFFF),  // code: present, DPL 0, exec/read, accessed; G, L
      gdt_entry(0xC093, 0, 0xFFFFF),  // data: present, DPL 0, read/write, accessed; G, D/B
      gdt_entry(0x808B, 0, 0xFFFFF),  // TSS: present, busy 64-bit TSS; G
  };
}

kvm_segment segment_from_gdt(const std::array<uint64_t, kGdtEntries>& gdt, uint16_t selector) {
  const uint64_t e = gdt.at(selector >> 3);
  kvm_segment seg{};
  seg.base = ((e >> 16) & 0xFF'FFFF) | ((e >> 32) & 0xFF00'0000);
  uint32_t limit = static_cast<uint32_t>((e & 0xFFFF) | ((e >> 32) & 0xF'0000));
  seg.g = (e >> 55) & 1;
  // KVM wants the byte-granular limit, as the CPU caches it.
  seg.limit = seg.g ? (limit << 12) | 0xFFF : limit;
  seg.selector = selector;
  seg.type = (e >> 40) & 0xF;
  seg.s = (e >> 44) & 1;
  seg.dpl = (e >> 45) & 3;
  seg.present = (e >> 47) & 1;
  seg.avl = (e >> 52) & 1;
  seg.l = (e >> 53) & 1;
  seg.db = (e >> 54) & 1;
  seg.unusable = seg.present ? 0 : 1;
  return seg;
}

Status write_gdt_and_idt(const GuestMemory& memory) {
  const auto gdt = boot_gdt();
  EMBER_CHECK(memory.write_obj(layout::kGdtAddr, gdt));
  return memory.write_obj(layout::kIdtAddr, uint64_t{0});
}

}  // namespace ember::vmm
