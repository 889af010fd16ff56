// Memory and OOM readings for the runtime's processes, from /proc and cgroup v2 files.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace ember::agent {

// The sum of VmHWM (peak resident set) over the live processes whose process group is pgid,
// scanning proc_root. Processes that already exited are not counted; the sum can exceed the
// true peak of the group when the members peaked at different times.
uint64_t process_group_peak_rss(pid_t pgid, const std::string& proc_root = "/proc");

// memory.peak of a cgroup v2 directory (everything charged to it, page cache included, since
// it was created); std::nullopt when unreadable.
std::optional<uint64_t> cgroup_memory_peak(const std::string& cgroup_dir);

// The kernel's count of OOM kills (/proc/vmstat oom_kill); 0 when unreadable.
uint64_t oom_kill_count(const std::string& vmstat_path = "/proc/vmstat");

}  // namespace ember::agent
