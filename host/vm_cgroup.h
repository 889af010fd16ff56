// VmCgroup: a cgroup v2 per VMM process with memory.max and cpu.max, removed with it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/result.h"

namespace ember::host {

struct CgroupLimits {
  uint64_t memory_max_bytes = 0;  // guest RAM plus the VMM's own overhead
  double cpus = 1.0;              // cpu.max quota in CPUs (0.5: half of one CPU's time)
};

// Guest RAM plus what ember-vmm itself needs (page tables, device buffers, its binary).
inline constexpr uint64_t kVmmOverheadBytes = 64ull << 20;

class VmCgroup {
 public:
  // Checks that `root` is a cgroup v2 hierarchy and makes `<root>/ember` with the memory
  // and cpu controllers enabled for its children. An error says why limits cannot be
  // enforced here (no cgroup2 mount, controllers missing); callers run without them.
  static Status prepare(const std::string& root = "/sys/fs/cgroup");

  // Makes `<root>/ember/<name>`, writes the limits and moves pid into it.
  static Result<VmCgroup> create(const std::string& root, const std::string& name, pid_t pid,
                                 const CgroupLimits& limits);

  VmCgroup(VmCgroup&& other) noexcept;
  VmCgroup& operator=(VmCgroup&& other) noexcept;
  VmCgroup(const VmCgroup&) = delete;
  VmCgroup& operator=(const VmCgroup&) = delete;
  // Removes the cgroup directory; call only after its process has exited (an rmdir of a
  // populated cgroup fails and leaves it behind, which is logged).
  ~VmCgroup();

  const std::string& path() const { return path_; }
  // Rewrites cpu.max (see CgroupLimits::cpus).
  Status set_cpus(double cpus) const;
  // memory.peak (Linux 5.19+), 0 when the kernel does not have it.
  uint64_t memory_peak_bytes() const;

 private:
  explicit VmCgroup(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// cpu.max's "<quota> <period>" for a share of CPUs (period 100 ms; at least 1 ms quota).
std::string cpu_max_value(double cpus);

}  // namespace ember::host
