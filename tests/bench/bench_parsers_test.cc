// The benchmark's parsers: ember-vmm's restore log lines and smaps_rollup (no VM needed).
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/bench/restore_breakdown.h"
#include "tests/bench/vm_counts.h"
#include "tests/bench/vm_memory.h"

namespace ember::bench {
namespace {

// As ember-vmm prints them at --log-level debug (vmm/logger.cc adds the prefixes).
constexpr const char* kRestoreLog =
    "ember-vmm: debug: restore: read and check state took 1500 us\n"
    "ember-vmm: debug: restore: create VM took 250 us\n"
    "ember-vmm: debug: restore: map memory took 40 us\n"
    "ember-vmm: restored in 2000 us\n"
    "ember-vmm: first KVM_RUN after 2600 us (monotonic 123456789000 ns)\n"
    "ember-vmm: debug: write to unhandled port 0x80\n";

TEST(VmmRestoreLog, ParsesStepsTotalsAndTheFirstRun) {
  auto log = parse_vmm_restore_log(kRestoreLog);
  ASSERT_TRUE(log.ok()) << log.error().message();
  ASSERT_EQ(log->steps.size(), 3u);
  EXPECT_EQ(log->steps[0].name, "read and check state");
  EXPECT_DOUBLE_EQ(log->steps[0].ms, 1.5);
  EXPECT_EQ(log->steps[2].name, "map memory");
  EXPECT_DOUBLE_EQ(log->steps[2].ms, 0.04);
  EXPECT_DOUBLE_EQ(log->restored_ms, 2.0);
  EXPECT_DOUBLE_EQ(log->main_to_run_ms, 2.6);
  EXPECT_EQ(log->first_run_ns, 123456789000);
  EXPECT_EQ(log->lines.size(), 5u);  // the unhandled-port line is not a timing line
}

TEST(VmmRestoreLog, RefusesALogWithoutTheFirstRun) {
  auto log = parse_vmm_restore_log(
      "ember-vmm: debug: restore: create VM took 250 us\nember-vmm: restored in 300 us\n");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message().find("first KVM_RUN"), std::string::npos);
}

TEST(ProcessMemory, ReadsThisProcess) {
  auto m = process_memory(::getpid());
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_GT(m->pss_kib, 0u);
  EXPECT_GE(m->rss_kib, m->pss_kib);
  EXPECT_LE(m->pss_anon_kib + m->pss_file_kib + m->pss_shmem_kib, m->pss_kib + 3);
}

TEST(ProcessMemory, FailsForAProcessThatIsGone) { EXPECT_FALSE(process_memory(0x7ffffff0).ok()); }

TEST(VmCounts, FlattensAStatsReply) {
  auto counts = parse_vm_counts(
      R"({"ok":true,"state":"running","uptime_ms":12,"exits":{"io":7,"hlt":3},"mem_mib":128,)"
      R"("vcpus":1,"kvm":{"vm":{"pages_4k":512},"vcpus":{"pf_taken":40,"exits":90}},)"
      R"("host_faults":{"minor":1000,"major":2}})");
  ASSERT_TRUE(counts.ok()) << counts.error().message();
  EXPECT_EQ(counts->at("kvm.vcpus.pf_taken"), 40u);
  EXPECT_EQ(counts->at("kvm.vm.pages_4k"), 512u);
  EXPECT_EQ(counts->at("exits.io"), 7u);
  EXPECT_EQ(counts->at("host_faults.major"), 2u);
  EXPECT_EQ(counts->count("uptime_ms"), 0u);  // not a count of the VM's work
  EXPECT_FALSE(parse_vm_counts(R"({"ok":false,"error":"no"})").ok());
  EXPECT_FALSE(parse_vm_counts("not json").ok());
}

TEST(VmCounts, WhatAnInvocationAdded) {
  const VmCounts before = {{"a", 10}, {"gauge", 9}, {"gone", 1}};
  const VmCounts after = {{"a", 25}, {"gauge", 4}, {"new", 3}};
  EXPECT_EQ(counts_between(before, after), (VmCounts{{"a", 15}, {"gauge", 0}}));
}

}  // namespace
}  // namespace ember::bench
