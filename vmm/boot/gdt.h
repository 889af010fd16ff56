// GDT: the flat 64-bit descriptors the Linux 64-bit boot protocol requires at entry.
#pragma once

#include <linux/kvm.h>

#include <array>
#include <cstdint>

#include "common/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember::vmm {

// Selectors: the boot protocol requires __BOOT_CS = 0x10 and __BOOT_DS = 0x18.
inline constexpr uint16_t kBootCsSelector = 0x10;
inline constexpr uint16_t kBootDsSelector = 0x18;
inline constexpr uint16_t kBootTssSelector = 0x20;
inline constexpr size_t kGdtEntries = 5;

// Packs an x86 segment descriptor. `flags` holds access byte bits 0-7 and the flag nibble
// (G, D/B, L, AVL) in bits 12-15, as in Linux's GDT_ENTRY(); `limit` is 20 bits.
constexpr uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit) {
  return ((uint64_t{base} & 0xFF00'0000) << 32) | ((uint64_t{flags} & 0xF0FF) << 40) |
         ((uint64_t{limit} & 0xF'0000) << 32) | ((uint64_t{base} & 0x00FF'FFFF) << 16) |
         (uint64_t{limit} & 0xFFFF);
}

// null, null, 64-bit code (0x10), flat data (0x18), TSS (0x20).
std::array<uint64_t, kGdtEntries> boot_gdt();

// The kvm_segment (hidden part of a segment register) that loading `selector` from `gdt`
// would produce. `selector` must index an entry of `gdt`.
kvm_segment segment_from_gdt(const std::array<uint64_t, kGdtEntries>& gdt, uint16_t selector);

// Writes the GDT at layout::kGdtAddr and a single zero IDT entry at layout::kIdtAddr.
Status write_gdt_and_idt(const GuestMemory& memory);

}  // namespace ember::vmm
