// Tests for boot data: e820 map, zero page, command line, page tables, GDT, initrd placement.
#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "vmm/boot/cmdline.h"
#include "vmm/boot/gdt.h"
#include "vmm/boot/initrd.h"
#include "vmm/boot/layout.h"
#include "vmm/boot/page_tables.h"
#include "vmm/boot/zero_page.h"

namespace ember::vmm {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;

TEST(E820, SmallGuestHasBaseMemoryReservedMpTableAndHighRam) {
  const auto map = build_e820_map(128 * kMiB);
  ASSERT_EQ(map.size(), 3u);
  EXPECT_EQ(map[0].addr, 0u);
  EXPECT_EQ(map[0].size, layout::kMpTableAddr);
  EXPECT_EQ(map[0].type, kE820Ram);
  EXPECT_EQ(map[1].addr, layout::kMpTableAddr);
  EXPECT_EQ(map[1].addr + map[1].size, layout::kEbdaEnd);
  EXPECT_EQ(map[1].type, kE820Reserved);
  EXPECT_EQ(map[2].addr, layout::kHighMemStart);
  EXPECT_EQ(map[2].addr + map[2].size, 128 * kMiB);
  EXPECT_EQ(map[2].type, kE820Ram);
}

TEST(E820, ExactlyThreeGiBHasNoRamAboveTheGap) {
  const auto map = build_e820_map(3 * kGiB);
  ASSERT_EQ(map.size(), 3u);
  EXPECT_EQ(map[2].addr + map[2].size, kMmioGapStart);
}

TEST(E820, LargeGuestSplitsAroundTheMmioGap) {
  const auto map = build_e820_map(5 * kGiB);
  ASSERT_EQ(map.size(), 4u);
  EXPECT_EQ(map[2].addr, layout::kHighMemStart);
  EXPECT_EQ(map[2].addr + map[2].size, kMmioGapStart);
  EXPECT_EQ(map[3].addr, kMmioGapEnd);
  EXPECT_EQ(map[3].size, 2 * kGiB);
  EXPECT_EQ(map[3].type, kE820Ram);
  uint64_t ram = 0;
  for (const auto& e : map) {
    if (e.type == kE820Ram) ram += e.size;
    // Nothing may be announced inside the gap, where devices and the LAPIC live.
    EXPECT_FALSE(e.addr < kMmioGapEnd && e.addr + e.size > kMmioGapStart);
  }
  // All RAM but the MP table KiB and the legacy hole is usable.
  EXPECT_EQ(ram, 5 * kGiB - (layout::kHighMemStart - layout::kMpTableAddr));
}

TEST(ZeroPage, HeaderFieldsAndPointers) {
  auto params = build_boot_params(256 * kMiB, 42, InitrdPlacement{0x0F00'0000, 0x12345});
  ASSERT_TRUE(params.ok());
  const setup_header& hdr = params->hdr;
  EXPECT_EQ(hdr.boot_flag, 0xAA55);
  EXPECT_EQ(hdr.header, 0x53726448u);
  EXPECT_EQ(hdr.type_of_loader, 0xFF);
  EXPECT_TRUE(hdr.loadflags & LOADED_HIGH);
  EXPECT_TRUE(hdr.loadflags & KEEP_SEGMENTS);
  EXPECT_EQ(hdr.cmd_line_ptr, layout::kCmdlineAddr);
  EXPECT_EQ(hdr.cmdline_size, 42u);
  EXPECT_EQ(hdr.ramdisk_image, 0x0F00'0000u);
  EXPECT_EQ(hdr.ramdisk_size, 0x12345u);
  EXPECT_EQ(params->ext_ramdisk_image, 0u);
  EXPECT_EQ(params->e820_entries, 3);
  EXPECT_EQ(params->e820_table[2].addr + params->e820_table[2].size, 256 * kMiB);
}

TEST(ZeroPage, WithoutInitrdRamdiskFieldsAreZero) {
  auto params = build_boot_params(5 * kGiB, 10, std::nullopt);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->hdr.ramdisk_image, 0u);
  EXPECT_EQ(params->hdr.ramdisk_size, 0u);
  EXPECT_EQ(params->e820_entries, 4);
  EXPECT_EQ(params->e820_table[3].addr, kMmioGapEnd);
}

TEST(ZeroPage, RejectsOverlongCommandLineAndInitrdAboveGap) {
  EXPECT_FALSE(build_boot_params(128 * kMiB, layout::kCmdlineMaxSize, std::nullopt).ok());
  EXPECT_FALSE(build_boot_params(5 * kGiB, 1, InitrdPlacement{kMmioGapEnd, 4096}).ok());
}

TEST(ZeroPage, WrittenIntoGuestMemory) {
  auto mem = GuestMemory::create_anonymous(64 * kMiB);
  ASSERT_TRUE(mem.ok());
  ASSERT_TRUE(write_boot_params(*mem, "console=ttyS0 quiet", std::nullopt).ok());
  auto params = mem->read_obj<boot_params>(layout::kZeroPageAddr);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->hdr.header, 0x53726448u);
  const char* cmdline = reinterpret_cast<const char*>(mem->host_ptr(layout::kCmdlineAddr, 32));
  EXPECT_STREQ(cmdline, "console=ttyS0 quiet");
  EXPECT_EQ(params->hdr.cmdline_size, std::strlen("console=ttyS0 quiet"));
}

TEST(Cmdline, FixedArgumentsConsoleOff) {
  auto line = build_kernel_cmdline({});
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line,
            "reboot=k panic=-1 pci=off nomodules i8042.noaux i8042.nomux i8042.dumbkbd "
            "tsc=reliable no_timer_check console=ttyS0 loglevel=1");
}

TEST(Cmdline, RootDevicesAndExtraInOrder) {
  CmdlineOptions o;
  o.console = true;
  o.has_root = true;
  o.virtio_devices = {{0xD000'0000, 0x1000, 5}, {0xD000'1000, 0x1000, 6}};
  o.extra = "init=/sbin/ember-agent";
  auto line = build_kernel_cmdline(o);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->find("loglevel"), std::string::npos);
  const size_t root = line->find(" root=/dev/vda ro rootfstype=erofs");
  const size_t dev0 = line->find(" virtio_mmio.device=4K@0xd0000000:5");
  const size_t dev1 = line->find(" virtio_mmio.device=4K@0xd0001000:6");
  const size_t extra = line->find(" init=/sbin/ember-agent");
  ASSERT_NE(root, std::string::npos);
  ASSERT_NE(dev0, std::string::npos);
  ASSERT_NE(dev1, std::string::npos);
  ASSERT_NE(extra, std::string::npos);
  EXPECT_LT(root, dev0);
  EXPECT_LT(dev0, dev1);
  EXPECT_LT(dev1, extra);
  EXPECT_EQ(extra + std::strlen(" init=/sbin/ember-agent"), line->size());
}

TEST(Cmdline, RejectsTooLongAndNewlines) {
  CmdlineOptions o;
  o.extra = std::string(3000, 'x');
  EXPECT_FALSE(build_kernel_cmdline(o).ok());
  o.extra = "a\nb";
  EXPECT_FALSE(build_kernel_cmdline(o).ok());
  o.extra = std::string(1900, 'x');
  EXPECT_TRUE(build_kernel_cmdline(o).ok());
}

TEST(Cmdline, VirtioArgumentWithOddSize) {
  EXPECT_EQ(virtio_mmio_arg({0xD000'0000, 0x200, 9}), "virtio_mmio.device=512@0xd0000000:9");
}

TEST(PageTables, IdentityMapFirstGiBWithHugePages) {
  auto mem = GuestMemory::create_anonymous(32 * kMiB);
  ASSERT_TRUE(mem.ok());
  ASSERT_TRUE(write_identity_page_tables(*mem).ok());
  auto pml4 = mem->read_obj<std::array<uint64_t, 512>>(layout::kPml4Addr);
  auto pdpt = mem->read_obj<std::array<uint64_t, 512>>(layout::kPdptAddr);
  auto pd = mem->read_obj<std::array<uint64_t, 512>>(layout::kPdAddr);
  ASSERT_TRUE(pml4.ok() && pdpt.ok() && pd.ok());
  EXPECT_EQ((*pml4)[0], layout::kPdptAddr | 0x3);
  EXPECT_EQ((*pml4)[1], 0u);
  EXPECT_EQ((*pdpt)[0], layout::kPdAddr | 0x3);
  EXPECT_EQ((*pdpt)[1], 0u);
  for (uint64_t i = 0; i < 512; ++i) {
    ASSERT_EQ((*pd)[i], (i * 2 * kMiB) | 0x83) << "PD entry " << i;
  }
}

TEST(Gdt, EntriesMatchTheBootProtocolSelectors) {
  const auto gdt = boot_gdt();
  EXPECT_EQ(gdt[0], 0u);
  EXPECT_EQ(gdt[kBootCsSelector >> 3], 0x00AF'9B00'0000'FFFFULL);
  EXPECT_EQ(gdt[kBootDsSelector >> 3], 0x00CF'9300'0000'FFFFULL);
  EXPECT_EQ(gdt[kBootTssSelector >> 3], 0x008F'8B00'0000'FFFFULL);
}

TEST(Gdt, SegmentsDecodeAsFlatLongMode) {
  const auto gdt = boot_gdt();
  const kvm_segment cs = segment_from_gdt(gdt, kBootCsSelector);
  EXPECT_EQ(cs.base, 0u);
  EXPECT_EQ(cs.limit, 0xFFFF'FFFFu);
  EXPECT_EQ(cs.selector, kBootCsSelector);
  EXPECT_EQ(cs.type, 0xB);
  EXPECT_EQ(cs.present, 1);
  EXPECT_EQ(cs.s, 1);
  EXPECT_EQ(cs.l, 1);
  EXPECT_EQ(cs.db, 0);
  EXPECT_EQ(cs.g, 1);
  const kvm_segment ds = segment_from_gdt(gdt, kBootDsSelector);
  EXPECT_EQ(ds.type, 0x3);
  EXPECT_EQ(ds.l, 0);
  EXPECT_EQ(ds.db, 1);
  const kvm_segment tr = segment_from_gdt(gdt, kBootTssSelector);
  EXPECT_EQ(tr.s, 0);
  EXPECT_EQ(tr.type, 0xB);
}

TEST(Gdt, GdtEntryPacksBaseAndLimit) {
  const uint64_t e = gdt_entry(0xC093, 0x1234'5678, 0xABCDE);
  std::array<uint64_t, kGdtEntries> gdt{0, 0, 0, e, 0};
  const kvm_segment s = segment_from_gdt(gdt, 0x18);
  EXPECT_EQ(s.base, 0x1234'5678u);
  EXPECT_EQ(s.limit, (0xABCDEu << 12) | 0xFFF);
}

TEST(Gdt, WrittenWithZeroIdt) {
  auto mem = GuestMemory::create_anonymous(16 * kMiB);
  ASSERT_TRUE(mem.ok());
  std::memset(mem->host_ptr(layout::kIdtAddr, 8), 0xAA, 8);
  ASSERT_TRUE(write_gdt_and_idt(*mem).ok());
  EXPECT_EQ(*mem->read_obj<uint64_t>(layout::kGdtAddr + 0x10), boot_gdt()[2]);
  EXPECT_EQ(*mem->read_obj<uint64_t>(layout::kIdtAddr), 0u);
  // The IDT must not overlap the GDT.
  EXPECT_GE(layout::kIdtAddr, layout::kGdtAddr + kGdtEntries * 8);
}

TEST(Initrd, PlacedPageAlignedAtTopOfLowRam) {
  auto p = place_initrd(10'000, 128 * kMiB, 20 * kMiB);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->addr % 4096, 0u);
  EXPECT_LE(p->addr + p->size, 128 * kMiB);
  EXPECT_GT(p->addr + 4096 + p->size, 128 * kMiB);
  EXPECT_EQ(p->size, 10'000u);
}

TEST(Initrd, RejectsOverlapWithKernelAndEmpty) {
  EXPECT_FALSE(place_initrd(100 * kMiB, 128 * kMiB, 30 * kMiB).ok());
  EXPECT_FALSE(place_initrd(200 * kMiB, 128 * kMiB, 1 * kMiB).ok());
  EXPECT_FALSE(place_initrd(0, 128 * kMiB, 1 * kMiB).ok());
  // Ends exactly at the kernel's (page-rounded) end: fits.
  EXPECT_TRUE(place_initrd(98 * kMiB, 128 * kMiB, 30 * kMiB - 100).ok());
}

}  // namespace
}  // namespace ember::vmm
