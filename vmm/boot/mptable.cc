// MP table construction.
#include "vmm/boot/mptable.h"

#include <cstring>

#include "vmm/boot/layout.h"

namespace ember::vmm {
namespace {

constexpr uint8_t kSpecRev = 4;  // MP spec 1.4
constexpr uint8_t kLapicVersion = 0x14;
constexpr uint8_t kIoapicVersion = 0x11;
constexpr uint8_t kCpuEnabled = 1;
constexpr uint8_t kCpuBsp = 2;
constexpr uint32_t kCpuSignature = 0x600;               // family 6
constexpr uint32_t kCpuFeatures = (1 << 0) | (1 << 9);  // FPU, APIC
constexpr uint8_t kIntTypeInt = 0;
constexpr uint8_t kIntTypeNmi = 1;
constexpr uint8_t kIntTypeExtInt = 3;

template <typename T>
void append(std::vector<uint8_t>& out, const T& value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace

uint8_t mp_checksum(const uint8_t* data, size_t size) {
  uint8_t sum = 0;
  for (size_t i = 0; i < size; ++i) sum = static_cast<uint8_t>(sum + data[i]);
  return sum;
}

Result<std::vector<uint8_t>> build_mp_table(uint32_t num_vcpus, uint64_t base_addr) {
  if (num_vcpus == 0 || num_vcpus > layout::kMaxVcpus) {
    return make_error("build MP table",
                      "vCPU count must be 1.." + std::to_string(layout::kMaxVcpus));
  }
  const uint8_t ioapic_id = static_cast<uint8_t>(num_vcpus);
  std::vector<uint8_t> entries;
  uint16_t count = 0;

  for (uint32_t i = 0; i < num_vcpus; ++i, ++count) {
    MpProcessorEntry cpu{};
    cpu.type = kMpEntryProcessor;
    cpu.lapic_id = static_cast<uint8_t>(i);
    cpu.lapic_version = kLapicVersion;
    cpu.cpu_flags = kCpuEnabled | (i == 0 ? kCpuBsp : 0);
    cpu.cpu_signature = kCpuSignature;
    cpu.feature_flags = kCpuFeatures;
    append(entries, cpu);
  }
  MpBusEntry bus{};
  bus.type = kMpEntryBus;
  bus.bus_id = 0;
  std::memcpy(bus.bus_type, "ISA   ", 6);
  append(entries, bus);
  ++count;

  MpIoapicEntry ioapic{};
  ioapic.type = kMpEntryIoapic;
  ioapic.ioapic_id = ioapic_id;
  ioapic.ioapic_version = kIoapicVersion;
  ioapic.flags = 1;
  ioapic.addr = static_cast<uint32_t>(layout::kIoapicAddr);
  append(entries, ioapic);
  ++count;

  for (uint32_t pin = 0; pin < layout::kIoapicPins; ++pin, ++count) {
    MpInterruptEntry irq{};
    irq.type = kMpEntryIoInterrupt;
    irq.interrupt_type = kIntTypeInt;
    irq.source_bus = 0;
    irq.source_irq = static_cast<uint8_t>(pin);
    irq.dest_apic_id = ioapic_id;
    irq.dest_pin = static_cast<uint8_t>(pin);
    append(entries, irq);
  }
  MpInterruptEntry extint{};
  extint.type = kMpEntryLocalInterrupt;
  extint.interrupt_type = kIntTypeExtInt;
  extint.dest_apic_id = 0;
  extint.dest_pin = 0;
  append(entries, extint);
  MpInterruptEntry nmi{};
  nmi.type = kMpEntryLocalInterrupt;
  nmi.interrupt_type = kIntTypeNmi;
  nmi.dest_apic_id = 0xFF;
  nmi.dest_pin = 1;
  append(entries, nmi);
  count += 2;

  const size_t total = sizeof(MpFloatingPointer) + sizeof(MpConfigHeader) + entries.size();
  if (total > layout::kMpTableMaxSize) {
    return make_error("build MP table", "too many vCPUs for the MP table area");
  }

  MpConfigHeader header{};
  std::memcpy(header.signature, "PCMP", 4);
  header.base_table_length = static_cast<uint16_t>(sizeof(header) + entries.size());
  header.spec_rev = kSpecRev;
  std::memcpy(header.oem_id, "EMBER   ", 8);
  std::memcpy(header.product_id, "MICROVM     ", 12);
  header.entry_count = count;
  header.lapic_addr = static_cast<uint32_t>(layout::kLapicAddr);
  std::vector<uint8_t> config;
  append(config, header);
  config.insert(config.end(), entries.begin(), entries.end());
  config[offsetof(MpConfigHeader, checksum)] =
      static_cast<uint8_t>(-mp_checksum(config.data(), config.size()));

  MpFloatingPointer fp{};
  std::memcpy(fp.signature, "_MP_", 4);
  fp.config_table_addr = static_cast<uint32_t>(base_addr + sizeof(MpFloatingPointer));
  fp.length = 1;
  fp.spec_rev = kSpecRev;
  fp.checksum =
      static_cast<uint8_t>(-mp_checksum(reinterpret_cast<const uint8_t*>(&fp), sizeof(fp)));

  std::vector<uint8_t> out;
  append(out, fp);
  out.insert(out.end(), config.begin(), config.end());
  return out;
}

Status write_mp_table(const GuestMemory& memory, uint32_t num_vcpus) {
  EMBER_TRY(std::vector<uint8_t> table, build_mp_table(num_vcpus, layout::kMpTableAddr));
  return memory.write(layout::kMpTableAddr, table);
}

}  // namespace ember::vmm
