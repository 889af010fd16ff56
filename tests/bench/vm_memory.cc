// Reads and sums smaps_rollup's Rss and Pss lines.
#include "tests/bench/vm_memory.h"

#include <fstream>
#include <sstream>
#include <string>

namespace ember::bench {

ProcessMemory& ProcessMemory::operator+=(const ProcessMemory& other) {
  rss_kib += other.rss_kib;
  pss_kib += other.pss_kib;
  pss_anon_kib += other.pss_anon_kib;
  pss_file_kib += other.pss_file_kib;
  pss_shmem_kib += other.pss_shmem_kib;
  return *this;
}

Result<ProcessMemory> process_memory(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/smaps_rollup";
  std::ifstream in(path);
  if (!in) return errno_error("open", path);
  ProcessMemory m;
  bool has_pss = false;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    uint64_t kib = 0;
    if (!(fields >> key >> kib)) continue;  // the header line: an address range
    if (key == "Rss:") m.rss_kib = kib;
    if (key == "Pss:") {
      m.pss_kib = kib;
      has_pss = true;
    }
    if (key == "Pss_Anon:") m.pss_anon_kib = kib;
    if (key == "Pss_File:") m.pss_file_kib = kib;
    if (key == "Pss_Shmem:") m.pss_shmem_kib = kib;
  }
  if (!has_pss) return make_error("read " + path, "no Pss line (is the process gone?)");
  return m;
}

Result<ProcessMemory> group_memory(const std::vector<pid_t>& pids) {
  ProcessMemory sum;
  for (pid_t pid : pids) {
    EMBER_TRY(ProcessMemory m, process_memory(pid));
    sum += m;
  }
  return sum;
}

}  // namespace ember::bench
