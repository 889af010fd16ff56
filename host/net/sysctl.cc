// write_sysctl: one write(2) to a /proc/sys file.
#include "host/net/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/unique_fd.h"

namespace ember::host::net {

Status write_sysctl(const std::string& name, const std::string& value) {
  const std::string path = "/proc/sys/" + name;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno_error("open", path);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return errno_error("write " + value, path);
  }
  return {};
}

}  // namespace ember::host::net
