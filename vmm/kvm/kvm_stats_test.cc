// Tests for KvmStats: a stats file laid out as the kernel documents it, and /dev/kvm's own
// where there is one.
#include "vmm/kvm/kvm_stats.h"

#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "vmm/kvm/kvm.h"

namespace ember::vmm {
namespace {

constexpr uint32_t kNameSize = 32;

struct FakeStat {
  const char* name;
  uint32_t flags;
  uint16_t size;
  std::vector<uint64_t> values;
};

// Header, id string, descriptors, data: the order and offsets KVM uses.
UniqueFd write_stats_file(const std::vector<FakeStat>& stats) {
  kvm_stats_header header{};
  header.name_size = kNameSize;
  header.num_desc = static_cast<uint32_t>(stats.size());
  header.id_offset = sizeof(header);
  header.desc_offset = header.id_offset + kNameSize;
  header.data_offset = header.desc_offset + static_cast<uint32_t>(stats.size()) * (16 + kNameSize);
  std::vector<uint8_t> file(header.data_offset);
  std::memcpy(file.data(), &header, sizeof(header));
  std::strcpy(reinterpret_cast<char*>(file.data() + header.id_offset), "kvm-1234/vcpu-0");
  uint32_t words = 0;
  std::vector<uint64_t> data;
  for (size_t i = 0; i < stats.size(); ++i) {
    uint8_t* d = file.data() + header.desc_offset + i * (16 + kNameSize);
    const uint32_t offset = words * 8;
    std::memcpy(d, &stats[i].flags, 4);
    std::memcpy(d + 6, &stats[i].size, 2);
    std::memcpy(d + 8, &offset, 4);
    std::strcpy(reinterpret_cast<char*>(d + 16), stats[i].name);
    data.insert(data.end(), stats[i].values.begin(), stats[i].values.end());
    words += stats[i].size;
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  file.insert(file.end(), bytes, bytes + data.size() * 8);
  UniqueFd fd(::memfd_create("kvm-stats", MFD_CLOEXEC));
  EXPECT_EQ(::write(fd.get(), file.data(), file.size()), static_cast<ssize_t>(file.size()));
  return fd;
}

TEST(KvmStats, ReadsSingleValuesByNameAndSkipsHistograms) {
  auto stats = KvmStats::from_file(write_stats_file({
      {"pf_taken", KVM_STATS_TYPE_CUMULATIVE, 1, {41}},
      {"halt_wait_hist", KVM_STATS_TYPE_LOG_HIST, 3, {1, 2, 3}},
      {"pf_fixed", KVM_STATS_TYPE_CUMULATIVE, 1, {7}},
      {"max_mmu_page_hash_collisions", KVM_STATS_TYPE_PEAK, 1, {2}},
  }));
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  auto values = stats->read();
  ASSERT_TRUE(values.ok()) << values.error().message();
  const std::map<std::string, uint64_t> want{
      {"pf_taken", 41}, {"pf_fixed", 7}, {"max_mmu_page_hash_collisions", 2}};
  EXPECT_EQ(*values, want);
}

TEST(KvmStats, ATruncatedFileIsAnError) {
  UniqueFd fd(::memfd_create("kvm-stats", MFD_CLOEXEC));
  ASSERT_EQ(::write(fd.get(), "short", 5), 5);
  auto stats = KvmStats::from_file(std::move(fd));
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.error().message().find("ends early"), std::string::npos);
}

TEST(KvmStats, SumsOverVcpus) {
  std::map<std::string, uint64_t> total{{"exits", 3}};
  add_stats(total, {{"exits", 4}, {"pf_taken", 1}});
  EXPECT_EQ(total, (std::map<std::string, uint64_t>{{"exits", 7}, {"pf_taken", 1}}));
}

TEST(KvmStats, RealVcpuHasPageFaultCounters) {
  auto kvm = Kvm::open();
  if (!kvm.ok()) GTEST_SKIP() << "no usable /dev/kvm: " << kvm.error().message();
  auto vm = kvm->create_vm();
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  auto vcpu = vm->create_vcpu(0);
  ASSERT_TRUE(vcpu.ok()) << vcpu.error().message();
  auto stats = KvmStats::open(vcpu->fd());
  if (!stats.ok()) GTEST_SKIP() << stats.error().message();
  auto values = stats->read();
  ASSERT_TRUE(values.ok()) << values.error().message();
  EXPECT_TRUE(values->contains("pf_taken") || values->contains("exits"))
      << values->size() << " statistics, none of pf_taken or exits";
}

}  // namespace
}  // namespace ember::vmm
