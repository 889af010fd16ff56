// A snapshot's working set: recorded from a clone after its first invocation, beside the
// snapshot's memory.bin, for every later restore of it to install before its vCPUs run
// (ember-vmm does that when the file is there; common/working_set.h has the format).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/result.h"

namespace ember::host {

// Records the pages of <snapshot_dir>/memory.bin that process vmm_pid (a VMM restored from
// it) has touched into <snapshot_dir>/working_set (written whole, then renamed into place,
// mode 0644), unless one is there. Returns the pages recorded (0: one was there already).
Result<uint64_t> record_snapshot_working_set(pid_t vmm_pid, const std::string& snapshot_dir);

}  // namespace ember::host
