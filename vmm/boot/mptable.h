// MP table (MultiProcessor Specification 1.4): vCPUs, ISA bus, IOAPIC and IRQ routing.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember::vmm {

// On-guest layout of the structures (all little-endian, packed).
#pragma pack(push, 1)
struct MpFloatingPointer {
  char signature[4];  // "_MP_"
  uint32_t config_table_addr;
  uint8_t length;  // in 16-byte units: 1
  uint8_t spec_rev;
  uint8_t checksum;
  uint8_t features[5];
};
struct MpConfigHeader {
  char signature[4];  // "PCMP"
  uint16_t base_table_length;
  uint8_t spec_rev;
  uint8_t checksum;
  char oem_id[8];
  char product_id[12];
  uint32_t oem_table_addr;
  uint16_t oem_table_size;
  uint16_t entry_count;
  uint32_t lapic_addr;
  uint16_t ext_table_length;
  uint8_t ext_table_checksum;
  uint8_t reserved;
};
struct MpProcessorEntry {
  uint8_t type;  // 0
  uint8_t lapic_id;
  uint8_t lapic_version;
  uint8_t cpu_flags;  // bit 0 enabled, bit 1 bootstrap processor
  uint32_t cpu_signature;
  uint32_t feature_flags;
  uint32_t reserved[2];
};
struct MpBusEntry {
  uint8_t type;  // 1
  uint8_t bus_id;
  char bus_type[6];
};
struct MpIoapicEntry {
  uint8_t type;  // 2
  uint8_t ioapic_id;
  uint8_t ioapic_version;
  uint8_t flags;  // bit 0 enabled
  uint32_t addr;
};
struct MpInterruptEntry {
  uint8_t type;            // 3 = I/O interrupt, 4 = local interrupt
  uint8_t interrupt_type;  // 0 INT, 1 NMI, 2 SMI, 3 ExtINT
  uint16_t flags;          // polarity and trigger mode; 0 = conforms to the bus
  uint8_t source_bus;
  uint8_t source_irq;
  uint8_t dest_apic_id;  // IOAPIC ID (type 3) or LAPIC ID, 0xFF = all (type 4)
  uint8_t dest_pin;      // IOAPIC INTIN# or LAPIC LINT#
};
#pragma pack(pop)

static_assert(sizeof(MpFloatingPointer) == 16);
static_assert(sizeof(MpConfigHeader) == 44);
static_assert(sizeof(MpProcessorEntry) == 20);
static_assert(sizeof(MpBusEntry) == 8);
static_assert(sizeof(MpIoapicEntry) == 8);
static_assert(sizeof(MpInterruptEntry) == 8);

inline constexpr uint8_t kMpEntryProcessor = 0;
inline constexpr uint8_t kMpEntryBus = 1;
inline constexpr uint8_t kMpEntryIoapic = 2;
inline constexpr uint8_t kMpEntryIoInterrupt = 3;
inline constexpr uint8_t kMpEntryLocalInterrupt = 4;

// The floating pointer followed by the configuration table, as bytes to place at
// `base_addr` (the pointer's config_table_addr is base_addr + 16). One processor entry per
// vCPU (LAPIC IDs 0..num_vcpus-1, vCPU 0 the BSP), the ISA bus, one IOAPIC with ID
// num_vcpus, one I/O interrupt entry per IOAPIC pin (ISA IRQ n -> pin n), ExtINT on LINT0
// of the BSP and NMI on LINT1 of every LAPIC. Fails when num_vcpus is 0 or the table would
// not fit layout::kMpTableMaxSize.
Result<std::vector<uint8_t>> build_mp_table(uint32_t num_vcpus, uint64_t base_addr);

// Builds the table for layout::kMpTableAddr and writes it there.
Status write_mp_table(const GuestMemory& memory, uint32_t num_vcpus);

// Sum of all bytes modulo 256 (0 for a correctly checksummed structure).
uint8_t mp_checksum(const uint8_t* data, size_t size);

}  // namespace ember::vmm
