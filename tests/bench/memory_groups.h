// Memory groups: N VMs alive at once, each invoked once, their VMMs' PSS summed.
#pragma once

#include <cstdint>
#include <optional>

#include "common/result.h"
#include "tests/bench/coldstart_paths.h"
#include "tests/bench/vm_memory.h"

namespace ember::bench {

struct MemoryComparison {
  uint32_t vms = 0;
  ProcessMemory clones;  // vms clones restored from the one init snapshot
  // The same with the working set installed, when path (b) recorded one.
  std::optional<ProcessMemory> clones_with_working_set;
  ProcessMemory boots;   // vms VMs booted and initialized from scratch
};

// Restores `vms` clones one after another, then as many with the working set (when
// `with_working_set`), then boots and initializes `vms` VMs one after another; each VM answers one invocation before the next
// starts, so every group is measured with all its VMs running. `first_invocation` numbers
// the invocations. Only one group is alive at a time.
Result<MemoryComparison> compare_memory(const ColdstartPaths& paths, uint32_t vms,
                                        uint32_t first_invocation, bool with_working_set);

}  // namespace ember::bench
