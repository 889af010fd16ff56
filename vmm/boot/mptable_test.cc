// Tests for the MP table: checksums, one processor entry per vCPU, IOAPIC and interrupts.
#include "vmm/boot/mptable.h"

#include <gtest/gtest.h>

#include <cstring>

#include "vmm/boot/layout.h"

namespace ember::vmm {
namespace {

struct Parsed {
  MpFloatingPointer fp{};
  MpConfigHeader header{};
  std::vector<MpProcessorEntry> cpus;
  std::vector<MpBusEntry> buses;
  std::vector<MpIoapicEntry> ioapics;
  std::vector<MpInterruptEntry> io_irqs;
  std::vector<MpInterruptEntry> local_irqs;
};

// Walks the entries the way a guest does, failing on unknown types or overruns.
Parsed parse(const std::vector<uint8_t>& t, uint64_t base) {
  Parsed p;
  EXPECT_GE(t.size(), sizeof(p.fp) + sizeof(p.header));
  std::memcpy(&p.fp, t.data(), sizeof(p.fp));
  const size_t cfg = p.fp.config_table_addr - base;
  EXPECT_EQ(cfg, sizeof(MpFloatingPointer));
  std::memcpy(&p.header, t.data() + cfg, sizeof(p.header));
  size_t off = cfg + sizeof(p.header);
  for (int i = 0; i < p.header.entry_count; ++i) {
    if (off >= t.size()) {
      ADD_FAILURE() << "entry " << i << " beyond the table";
      break;
    }
    auto take = [&](auto& vec) {
      typename std::decay_t<decltype(vec)>::value_type e;
      std::memcpy(&e, t.data() + off, sizeof(e));
      vec.push_back(e);
      off += sizeof(e);
    };
    switch (t[off]) {
      case kMpEntryProcessor: take(p.cpus); break;
      case kMpEntryBus: take(p.buses); break;
      case kMpEntryIoapic: take(p.ioapics); break;
      case kMpEntryIoInterrupt: take(p.io_irqs); break;
      case kMpEntryLocalInterrupt: take(p.local_irqs); break;
      default: ADD_FAILURE() << "unknown entry type " << int{t[off]}; return p;
    }
  }
  EXPECT_EQ(off, t.size());
  EXPECT_EQ(off - cfg, p.header.base_table_length);
  return p;
}

TEST(MpTable, ChecksumsAndSignatures) {
  auto t = build_mp_table(2, layout::kMpTableAddr);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(std::memcmp(t->data(), "_MP_", 4), 0);
  EXPECT_EQ(mp_checksum(t->data(), sizeof(MpFloatingPointer)), 0);
  EXPECT_EQ(std::memcmp(t->data() + 16, "PCMP", 4), 0);
  EXPECT_EQ(mp_checksum(t->data() + 16, t->size() - 16), 0);
  Parsed p = parse(*t, layout::kMpTableAddr);
  EXPECT_EQ(p.fp.length, 1);
  EXPECT_EQ(p.fp.spec_rev, 4);
  EXPECT_EQ(p.fp.config_table_addr, layout::kMpTableAddr + 16);
  EXPECT_EQ(p.header.lapic_addr, layout::kLapicAddr);
}

TEST(MpTable, OneProcessorPerVcpuWithOnlyFirstAsBsp) {
  for (uint32_t n : {1u, 3u, layout::kMaxVcpus}) {
    auto t = build_mp_table(n, layout::kMpTableAddr);
    ASSERT_TRUE(t.ok()) << n;
    ASSERT_LE(t->size(), layout::kMpTableMaxSize);
    Parsed p = parse(*t, layout::kMpTableAddr);
    ASSERT_EQ(p.cpus.size(), n);
    for (uint32_t i = 0; i < n; ++i) {
      EXPECT_EQ(p.cpus[i].lapic_id, i);
      EXPECT_TRUE(p.cpus[i].cpu_flags & 1) << "cpu " << i << " enabled";
      EXPECT_EQ((p.cpus[i].cpu_flags & 2) != 0, i == 0) << "cpu " << i << " BSP flag";
    }
  }
}

TEST(MpTable, BusIoapicAndInterruptRouting) {
  auto t = build_mp_table(4, layout::kMpTableAddr);
  ASSERT_TRUE(t.ok());
  Parsed p = parse(*t, layout::kMpTableAddr);
  ASSERT_EQ(p.buses.size(), 1u);
  EXPECT_EQ(std::memcmp(p.buses[0].bus_type, "ISA   ", 6), 0);
  ASSERT_EQ(p.ioapics.size(), 1u);
  EXPECT_EQ(p.ioapics[0].addr, layout::kIoapicAddr);
  EXPECT_EQ(p.ioapics[0].ioapic_id, 4);  // no clash with LAPIC IDs 0..3
  EXPECT_EQ(p.ioapics[0].flags & 1, 1);
  ASSERT_EQ(p.io_irqs.size(), layout::kIoapicPins);
  for (uint32_t i = 0; i < layout::kIoapicPins; ++i) {
    EXPECT_EQ(p.io_irqs[i].source_irq, i);
    EXPECT_EQ(p.io_irqs[i].dest_pin, i);
    EXPECT_EQ(p.io_irqs[i].dest_apic_id, 4);
    EXPECT_EQ(p.io_irqs[i].source_bus, p.buses[0].bus_id);
  }
  ASSERT_EQ(p.local_irqs.size(), 2u);
  EXPECT_EQ(p.local_irqs[0].interrupt_type, 3);  // ExtINT
  EXPECT_EQ(p.local_irqs[0].dest_pin, 0);        // LINT0
  EXPECT_EQ(p.local_irqs[1].interrupt_type, 1);  // NMI
  EXPECT_EQ(p.local_irqs[1].dest_pin, 1);        // LINT1
}

TEST(MpTable, RejectsZeroAndTooManyVcpus) {
  EXPECT_FALSE(build_mp_table(0, layout::kMpTableAddr).ok());
  EXPECT_FALSE(build_mp_table(layout::kMaxVcpus + 1, layout::kMpTableAddr).ok());
}

TEST(MpTable, WrittenInLastKiBOfBaseMemory) {
  auto mem = GuestMemory::create_anonymous(16 << 20);
  ASSERT_TRUE(mem.ok());
  ASSERT_TRUE(write_mp_table(*mem, 2).ok());
  const uint8_t* p = mem->host_ptr(layout::kMpTableAddr, 16);
  EXPECT_EQ(std::memcmp(p, "_MP_", 4), 0);
  // Linux scans 16-byte aligned addresses only.
  EXPECT_EQ(layout::kMpTableAddr % 16, 0u);
}

}  // namespace
}  // namespace ember::vmm
