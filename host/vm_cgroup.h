// VmCgroup: a cgroup v2 per VMM process with memory.max and cpu.max, removed with it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::host {

struct CgroupLimits {
  uint64_t memory_max_bytes = 0;  // guest RAM plus the VMM's own overhead
  // cpu.max quota in CPUs (0.5: half of one CPU's time); kNoCpuQuota: none ("max").
  double cpus = 1.0;
};

inline constexpr double kNoCpuQuota = 0;

// Guest RAM plus what ember-vmm itself needs (page tables, device buffers, its binary).
inline constexpr uint64_t kVmmOverheadBytes = 64ull << 20;

// vCPUs for a memory size: one per 1769 MB started, as Lambda scales CPU with memory.
uint32_t vcpus_for_memory(uint32_t memory_mb);
// The CPU share for a memory size in units of one CPU (1769 MB = 1.0), for cgroup cpu.max.
double cpu_share_for_memory(uint32_t memory_mb);
// A new VMM's limits for a guest of memory_mb: its memory and the VMM's overhead, and no
// CPU quota (a new environment's boot, init or restore, and its first invocation, run at
// full speed, as Lambda's init does; the memory's share applies from then on).
CgroupLimits new_vmm_limits(uint32_t memory_mb);
// A booted VMM's: new_vmm_limits with room for the snapshot it writes as well (its
// memory.bin's pages are charged to it: page cache, or shared memory where the state
// directory is on tmpfs, which cannot be reclaimed without swap), guest RAM once more.
CgroupLimits booted_vmm_limits(uint32_t memory_mb);
// A standby VMM's, before it knows its snapshot: the VMM's overhead and one CPU.
inline constexpr CgroupLimits kStandbyVmmLimits{kVmmOverheadBytes, 1.0};

class VmCgroup {
 public:
  // Checks that `root` is a cgroup v2 hierarchy and makes `<root>/ember` with the memory
  // and cpu controllers enabled for its children. An error says why limits cannot be
  // enforced here (no cgroup2 mount, controllers missing); callers run without them.
  static Status prepare(const std::string& root = "/sys/fs/cgroup");

  // Makes `<root>/ember/<name>` and writes the limits. A VMM is then started in it
  // (SpawnOptions::cgroup_fd = fd()), so they apply from its first instruction.
  static Result<VmCgroup> create(const std::string& root, const std::string& name,
                                 const CgroupLimits& limits);
  // A fresh name for a VMM's cgroup: vm-<emberd's pid>-<n>.
  static std::string fresh_name();

  VmCgroup(VmCgroup&& other) noexcept;
  VmCgroup& operator=(VmCgroup&& other) noexcept;
  VmCgroup(const VmCgroup&) = delete;
  VmCgroup& operator=(const VmCgroup&) = delete;
  // Removes the cgroup directory; call only after its process has exited (an rmdir of a
  // populated cgroup fails and leaves it behind, which is logged).
  ~VmCgroup();

  const std::string& path() const { return path_; }
  // The cgroup's directory, open (O_PATH) for clone3's CLONE_INTO_CGROUP.
  int fd() const { return dir_.get(); }
  // Rewrites cpu.max (see CgroupLimits::cpus) or memory.max.
  Status set_cpus(double cpus) const;
  Status set_memory_max(uint64_t bytes) const;
  // memory.peak (Linux 5.19+), 0 when the kernel does not have it.
  uint64_t memory_peak_bytes() const;

 private:
  explicit VmCgroup(std::string path) : path_(std::move(path)) {}
  std::string path_;
  UniqueFd dir_;
};

// cpu.max's "<quota> <period>" for a share of CPUs (period 100 ms; at least 1 ms quota), or
// "max <period>" for kNoCpuQuota.
std::string cpu_max_value(double cpus);

}  // namespace ember::host
