// Proportional memory (PSS) of VMM processes, from /proc/<pid>/smaps_rollup.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "common/result.h"

namespace ember::bench {

// kB as the kernel reports them. PSS splits every shared page among its mappers, so the
// sum over a group of VMs counts each page of a snapshot's memory file once in all.
struct ProcessMemory {
  uint64_t rss_kib = 0;
  uint64_t pss_kib = 0;
  uint64_t pss_anon_kib = 0;   // private guest writes, the VMM's heap and stacks
  uint64_t pss_file_kib = 0;   // file-backed pages: snapshot memory on disk, kernel image
  uint64_t pss_shmem_kib = 0;  // tmpfs/shmem-backed pages: a snapshot memory file on tmpfs

  ProcessMemory& operator+=(const ProcessMemory& other);
};

// One process's figures; an error if it is gone or smaps_rollup is unreadable.
Result<ProcessMemory> process_memory(pid_t pid);
// The sum over pids.
Result<ProcessMemory> group_memory(const std::vector<pid_t>& pids);

}  // namespace ember::bench
