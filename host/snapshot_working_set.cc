// Recording a snapshot's working set from a restored VMM's page tables.
#include "host/snapshot_working_set.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "common/unique_fd.h"
#include "common/working_set.h"

namespace ember::host {

Result<uint64_t> record_snapshot_working_set(pid_t vmm_pid, const std::string& snapshot_dir) {
  const std::string path = snapshot_dir + "/" + kWorkingSetFile;
  if (::access(path.c_str(), F_OK) == 0) return uint64_t{0};
  const std::string memory = snapshot_dir + "/memory.bin";
  struct stat st = {};
  if (::stat(memory.c_str(), &st) != 0) return errno_error("record the working set", memory);
  EMBER_TRY(std::vector<PageRun> runs, record_working_set(vmm_pid, st.st_dev, st.st_ino));
  const std::string text =
      encode_working_set(runs, static_cast<uint64_t>(st.st_size) / kWorkingSetPageSize);
  const std::string tmp = path + ".tmp." + std::to_string(vmm_pid);
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return errno_error("record the working set", tmp);
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      Error e = errno_error("record the working set", "write " + tmp);
      ::unlink(tmp.c_str());
      return e;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = errno_error("record the working set", "rename " + tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  uint64_t pages = 0;
  for (const PageRun& r : runs) pages += r.pages;
  return pages;
}

}  // namespace ember::host
