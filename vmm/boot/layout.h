// Guest physical addresses of everything the VMM places in RAM or the MMIO gap at boot.
#pragma once

#include <cstdint>

namespace ember::vmm::layout {

// Boot structures in the first 1 MiB (see docs/vmm-interfaces.md).
inline constexpr uint64_t kGdtAddr = 0x500;
inline constexpr uint64_t kIdtAddr = 0x540;  // one zero 8-byte entry: no handlers until Linux's
inline constexpr uint64_t kZeroPageAddr = 0x7000;
inline constexpr uint64_t kPml4Addr = 0x9000;
inline constexpr uint64_t kPdptAddr = 0xA000;
inline constexpr uint64_t kPdAddr = 0xB000;
inline constexpr uint64_t kCmdlineAddr = 0x20000;
// Linux's COMMAND_LINE_SIZE on x86, including the terminating NUL.
inline constexpr uint64_t kCmdlineMaxSize = 2048;
// The MP table lives in the last KiB of base memory, where Linux scans for it.
inline constexpr uint64_t kMpTableAddr = 0x9FC00;
inline constexpr uint64_t kMpTableMaxSize = 0x400;
inline constexpr uint64_t kEbdaEnd = 0xA0000;
// Kernels load at 1 MiB or above; nothing of ours may lie there.
inline constexpr uint64_t kHighMemStart = 0x100000;

// KVM's private pages (Intel real-mode support) at the top of the MMIO gap, below the BIOS.
inline constexpr uint64_t kIdentityMapAddr = 0xFFFB'C000;
inline constexpr uint64_t kTssAddr = 0xFFFB'D000;

// Interrupt controllers, as the in-kernel irqchip places them.
inline constexpr uint64_t kIoapicAddr = 0xFEC0'0000;
inline constexpr uint64_t kLapicAddr = 0xFEE0'0000;
inline constexpr uint32_t kIoapicPins = 24;

// virtio-mmio device i: base kVirtioMmioBase + i * kVirtioMmioSize, GSI kVirtioFirstGsi + i.
inline constexpr uint64_t kVirtioMmioBase = 0xD000'0000;
inline constexpr uint64_t kVirtioMmioSize = 0x1000;
inline constexpr uint32_t kVirtioFirstGsi = 5;
inline constexpr uint32_t kMaxVirtioDevices = kIoapicPins - kVirtioFirstGsi;

// Legacy devices.
inline constexpr uint16_t kSerialPort = 0x3F8;
inline constexpr uint32_t kSerialIrq = 4;
inline constexpr uint16_t kI8042DataPort = 0x60;
inline constexpr uint16_t kI8042CommandPort = 0x64;

// x86 limits that the MP table and APIC IDs impose on us.
inline constexpr uint32_t kMaxVcpus = 32;

}  // namespace ember::vmm::layout
