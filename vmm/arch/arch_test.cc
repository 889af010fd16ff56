// Tests for per-vCPU CPUID, boot MSRs, long-mode registers and LAPIC LINT setup.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "vmm/arch/cpuid.h"
#include "vmm/arch/msrs.h"
#include "vmm/arch/regs.h"
#include "vmm/boot/gdt.h"
#include "vmm/boot/layout.h"

namespace ember::vmm {
namespace {

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t index, uint32_t eax, uint32_t ebx, uint32_t ecx,
                      uint32_t edx, bool indexed = false) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  e.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

std::vector<kvm_cpuid_entry2> fake_supported() {
  return {
      leaf(0, 0, 0xD, 0x756E6547, 0x6C65746E, 0x49656E69),
      leaf(1, 0, 0x806C1, 0xFF00'0A11, 0x0000'0001, 0x1000'0001),
      leaf(4, 0, 0xFC00'4121, 1, 2, 3, true),  // L1d, claims 64 cores
      leaf(4, 1, 0xFC00'4163, 1, 2, 3, true),  // L3
      leaf(4, 2, 0, 0, 0, 0, true),            // end of caches
      leaf(0xB, 0, 1, 2, 0x100, 7, true),
      leaf(0xB, 1, 4, 16, 0x201, 7, true),
      leaf(0xB, 2, 0, 0, 2, 7, true),
      leaf(0x4000'0000, 0, 0x4000'0001, 0x4B4D564B, 0x564B4D56, 0x4D),
      leaf(0x4000'0001, 0, 0x0100'7AFB, 0, 0, 0),
  };
}

TEST(Cpuid, Leaf1CarriesApicIdCountAndHypervisorBit) {
  const auto supported = fake_supported();
  const auto out = build_vcpu_cpuid(supported, {3, 4, true});
  const kvm_cpuid_entry2* e = find_cpuid(out, 1);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->ebx >> 24, 3u);
  EXPECT_EQ((e->ebx >> 16) & 0xFF, 4u);
  EXPECT_EQ((e->ebx >> 8) & 0xFF, 8u);
  EXPECT_EQ(e->ebx & 0xFF, 0x11u);  // brand index kept
  EXPECT_TRUE(e->ecx & kCpuid1EcxHypervisor);
  EXPECT_TRUE(e->ecx & kCpuid1EcxTscDeadline);
  EXPECT_TRUE(e->edx & kCpuid1EdxHtt);
  EXPECT_EQ(e->eax, 0x806C1u);  // signature kept
}

TEST(Cpuid, SingleVcpuHasNoHttAndNoTscDeadlineUnlessAsked) {
  const auto supported = fake_supported();
  const auto out = build_vcpu_cpuid(supported, {0, 1, false});
  const kvm_cpuid_entry2* e = find_cpuid(out, 1);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->ebx >> 24, 0u);
  EXPECT_FALSE(e->edx & kCpuid1EdxHtt);
  EXPECT_FALSE(e->ecx & kCpuid1EcxTscDeadline);
}

TEST(Cpuid, Leaf0BDescribesCoresWithX2ApicId) {
  const auto supported = fake_supported();
  const auto out = build_vcpu_cpuid(supported, {5, 6, false});
  const kvm_cpuid_entry2* smt = find_cpuid(out, 0xB, 0);
  const kvm_cpuid_entry2* core = find_cpuid(out, 0xB, 1);
  const kvm_cpuid_entry2* end = find_cpuid(out, 0xB, 2);
  ASSERT_TRUE(smt && core && end);
  EXPECT_EQ(smt->eax, 0u);
  EXPECT_EQ(smt->ebx, 1u);
  EXPECT_EQ(smt->ecx, 0x100u);
  EXPECT_EQ(core->eax, 3u);  // 6 CPUs need 3 APIC ID bits
  EXPECT_EQ(core->ebx, 6u);
  EXPECT_EQ(core->ecx, 0x201u);
  EXPECT_EQ(end->ecx, 2u);
  for (const auto* e : {smt, core, end}) EXPECT_EQ(e->edx, 5u);
}

TEST(Cpuid, Leaf4SharingMatchesVcpuCount) {
  const auto supported = fake_supported();
  const auto out = build_vcpu_cpuid(supported, {0, 2, false});
  const kvm_cpuid_entry2* l1 = find_cpuid(out, 4, 0);
  const kvm_cpuid_entry2* l3 = find_cpuid(out, 4, 1);
  const kvm_cpuid_entry2* none = find_cpuid(out, 4, 2);
  ASSERT_TRUE(l1 && l3 && none);
  EXPECT_EQ(l1->eax >> 26, 1u);
  EXPECT_EQ((l1->eax >> 14) & 0xFFF, 0u);
  EXPECT_EQ(l3->eax >> 26, 1u);
  EXPECT_EQ((l3->eax >> 14) & 0xFFF, 1u);
  EXPECT_EQ(l1->eax & 0x3FFF, 0x0121u);  // type and level kept
  EXPECT_EQ(none->eax, 0u);
}

TEST(Cpuid, KvmParavirtLeavesKeptUntouched) {
  const auto supported = fake_supported();
  const auto out = build_vcpu_cpuid(supported, {1, 2, false});
  ASSERT_EQ(out.size(), supported.size());
  const kvm_cpuid_entry2* sig = find_cpuid(out, 0x4000'0000);
  const kvm_cpuid_entry2* features = find_cpuid(out, 0x4000'0001);
  ASSERT_TRUE(sig && features);
  EXPECT_EQ(sig->ebx, 0x4B4D564Bu);
  EXPECT_EQ(features->eax, 0x0100'7AFBu);
}

TEST(Msrs, BootEntriesHaveTheValuesLinuxExpects) {
  const auto msrs = boot_msr_entries();
  auto value = [&](uint32_t index) -> std::optional<uint64_t> {
    for (const auto& e : msrs) {
      if (e.index == index) return e.data;
    }
    return std::nullopt;
  };
  for (uint32_t zeroed : {kMsrSysenterCs, kMsrSysenterEsp, kMsrSysenterEip, kMsrStar, kMsrLstar,
                          kMsrCstar, kMsrSyscallMask, kMsrKernelGsBase, kMsrTsc}) {
    ASSERT_TRUE(value(zeroed).has_value()) << std::hex << zeroed;
    EXPECT_EQ(*value(zeroed), 0u);
  }
  EXPECT_EQ(value(kMsrMiscEnable), kMiscEnableFastStrings);
  EXPECT_EQ(value(kMsrMtrrDefType), (1ULL << 11) | 6);
}

TEST(Regs, EntryRegisters) {
  const kvm_regs r = boot_regs(0x100'0000);
  EXPECT_EQ(r.rip, 0x100'0000u);
  EXPECT_EQ(r.rsi, layout::kZeroPageAddr);
  EXPECT_EQ(r.rflags, 2u);
  EXPECT_LT(r.rsp, layout::kPml4Addr);
  EXPECT_GT(r.rsp, layout::kZeroPageAddr + 4096);
}

TEST(Regs, LongModeSregsFromResetState) {
  kvm_sregs s{};
  s.cr0 = 0x6000'0010;  // KVM's reset value: CD | NW | ET
  s.efer = 0;
  setup_long_mode_sregs(s);
  EXPECT_EQ(s.cr0 & (kCr0Pe | kCr0Pg), kCr0Pe | kCr0Pg);
  EXPECT_EQ(s.cr0 & (kCr0Cd | kCr0Nw), 0u);
  EXPECT_TRUE(s.cr4 & kCr4Pae);
  EXPECT_EQ(s.efer & (kEferLme | kEferLma), kEferLme | kEferLma);
  EXPECT_EQ(s.cr3, layout::kPml4Addr);
  EXPECT_EQ(s.gdt.base, layout::kGdtAddr);
  EXPECT_EQ(s.gdt.limit, kGdtEntries * 8 - 1);
  EXPECT_EQ(s.idt.base, layout::kIdtAddr);
  EXPECT_EQ(s.cs.selector, kBootCsSelector);
  EXPECT_EQ(s.cs.l, 1);
  for (const kvm_segment* seg : {&s.ds, &s.es, &s.fs, &s.gs, &s.ss}) {
    EXPECT_EQ(seg->selector, kBootDsSelector);
    EXPECT_EQ(seg->present, 1);
  }
  EXPECT_EQ(s.tr.selector, kBootTssSelector);
}

TEST(Regs, FpuControlWords) {
  const kvm_fpu f = boot_fpu();
  EXPECT_EQ(f.fcw, 0x37F);
  EXPECT_EQ(f.mxcsr, 0x1F80u);
}

TEST(Lapic, Lint0ExtIntLint1Nmi) {
  kvm_lapic_state lapic{};
  set_lapic_reg(lapic, kApicLvtLint0, 0x0001'0000);  // masked, fixed
  set_lapic_reg(lapic, kApicLvtLint1, 0x0001'0700);
  set_lapic_reg(lapic, 0x320, 0xDEAD);  // timer LVT must stay
  setup_lapic_lints(lapic);
  EXPECT_EQ(lapic_reg(lapic, kApicLvtLint0), 0x0001'0700u);
  EXPECT_EQ(lapic_reg(lapic, kApicLvtLint1), 0x0001'0400u);
  EXPECT_EQ(lapic_reg(lapic, 0x320), 0xDEADu);
  // Out-of-range offsets neither read nor write.
  set_lapic_reg(lapic, 0x400, 1);
  EXPECT_EQ(lapic_reg(lapic, 0x400), 0u);
}

}  // namespace
}  // namespace ember::vmm
