// Registers: the vCPU state at the Linux 64-bit entry point (long mode, flat segments, LAPIC).
#pragma once

#include <linux/kvm.h>

#include <cstdint>

namespace ember::vmm {

inline constexpr uint64_t kCr0Pe = 1ULL << 0;
inline constexpr uint64_t kCr0Et = 1ULL << 4;
inline constexpr uint64_t kCr0Cd = 1ULL << 30;
inline constexpr uint64_t kCr0Nw = 1ULL << 29;
inline constexpr uint64_t kCr0Pg = 1ULL << 31;
inline constexpr uint64_t kCr4Pae = 1ULL << 5;
inline constexpr uint64_t kEferLme = 1ULL << 8;
inline constexpr uint64_t kEferLma = 1ULL << 10;
inline constexpr uint64_t kBootStackPointer = 0x8FF0;

inline constexpr uint32_t kApicLvtLint0 = 0x350;
inline constexpr uint32_t kApicLvtLint1 = 0x360;
inline constexpr uint32_t kApicDeliveryNmi = 4;
inline constexpr uint32_t kApicDeliveryExtInt = 7;

// General registers: RIP = entry, RSI = the zero page, RFLAGS = 2 (reserved bit only, IF
// clear), a small stack below the page tables.
kvm_regs boot_regs(uint64_t entry);

// Turns KVM's reset sregs into 64-bit mode: CS = 64-bit code (0x10), data segments 0x18,
// TR 0x20, GDT/IDT from the boot layout, CR0 PE|PG (caches on), CR4 PAE, EFER LME|LMA,
// CR3 = the identity PML4.
void setup_long_mode_sregs(kvm_sregs& sregs);

// x87 and SSE control words at their power-on values.
kvm_fpu boot_fpu();

// LINT0 delivers ExtINT (the PIC) and LINT1 NMI, as a BIOS would leave them.
void setup_lapic_lints(kvm_lapic_state& lapic);

// 32-bit LAPIC register at `offset` (a multiple of 16 below 0x400).
uint32_t lapic_reg(const kvm_lapic_state& lapic, uint32_t offset);
void set_lapic_reg(kvm_lapic_state& lapic, uint32_t offset, uint32_t value);

}  // namespace ember::vmm
