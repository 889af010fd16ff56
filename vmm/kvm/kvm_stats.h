// KvmStats: KVM's binary statistics of one VM or vCPU (KVM_GET_STATS_FD, Linux 5.14+), such
// as pf_taken, pf_fixed or exits: counts that do not depend on how fast the host is.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::vmm {

class KvmStats {
 public:
  // KVM_GET_STATS_FD on a VM or vCPU fd, then its descriptors. Fails on kernels without
  // binary statistics.
  static Result<KvmStats> open(int vm_or_vcpu_fd);
  // From a stats file already open (a real one, or one written by a test).
  static Result<KvmStats> from_file(UniqueFd stats_fd);

  // Every single-valued statistic (cumulative, instant, peak) by name; histograms are left
  // out. One pread of the data block.
  Result<std::map<std::string, uint64_t>> read() const;

 private:
  struct Field {
    std::string name;
    uint32_t index;  // in the data block, in u64 words
  };
  KvmStats() = default;

  UniqueFd fd_;
  uint64_t data_offset_ = 0;
  uint32_t data_words_ = 0;
  std::vector<Field> fields_;
};

// Adds each of `from`'s values to `into` (vCPU statistics summed over the vCPUs).
void add_stats(std::map<std::string, uint64_t>& into, const std::map<std::string, uint64_t>& from);

}  // namespace ember::vmm
