// Memory and OOM readings: small text parsers over /proc/<pid>/stat, /proc/<pid>/status,
// /proc/vmstat and memory.peak.
#include "guest-agent/process_memory.h"

#include <dirent.h>

#include <cstdlib>

#include "guest-agent/init_system.h"

namespace ember::agent {
namespace {

// The process group field of /proc/<pid>/stat; the command name in parentheses may itself
// hold spaces and parentheses, so fields are counted after the last ')': " S ppid pgrp ...".
std::optional<pid_t> stat_process_group(const std::string& stat) {
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 4 > stat.size()) return std::nullopt;
  const char* p = stat.c_str() + close + 4;  // past ") S "
  char* end = nullptr;
  std::strtol(p, &end, 10);  // ppid
  if (end == p) return std::nullopt;
  p = end;
  long pgrp = std::strtol(p, &end, 10);
  if (end == p) return std::nullopt;
  return static_cast<pid_t>(pgrp);
}

// "VmHWM:     1234 kB" from /proc/<pid>/status, in bytes.
uint64_t status_vm_hwm(const std::string& status) {
  size_t at = status.find("\nVmHWM:");
  if (at == std::string::npos) return 0;
  return std::strtoull(status.c_str() + at + 7, nullptr, 10) * 1024;
}

}  // namespace

uint64_t process_group_peak_rss(pid_t pgid, const std::string& proc_root) {
  DIR* dir = ::opendir(proc_root.c_str());
  if (dir == nullptr) return 0;
  uint64_t total = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto stat = read_text_file(proc_root + "/" + name + "/stat");
    if (!stat.ok() || stat_process_group(*stat) != pgid) continue;
    auto status = read_text_file(proc_root + "/" + name + "/status");
    if (status.ok()) total += status_vm_hwm(*status);
  }
  ::closedir(dir);
  return total;
}

std::optional<uint64_t> cgroup_memory_peak(const std::string& cgroup_dir) {
  auto text = read_text_file(cgroup_dir + "/memory.peak");
  if (!text.ok() || text->empty() || (*text)[0] < '0' || (*text)[0] > '9') return std::nullopt;
  return std::strtoull(text->c_str(), nullptr, 10);
}

uint64_t oom_kill_count(const std::string& vmstat_path) {
  auto text = read_text_file(vmstat_path);
  if (!text.ok()) return 0;
  size_t at = text->find("\noom_kill ");
  if (at == std::string::npos) return 0;
  return std::strtoull(text->c_str() + at + 10, nullptr, 10);
}

}  // namespace ember::agent
