// Unix stream socket helpers.
#include "common/unix_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace ember {

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return make_error("unix socket path",
                      "must be 1.." + std::to_string(sizeof(addr.sun_path) - 1) + " bytes: '" +
                          path + "'");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

Result<UniqueFd> listen_unix(const std::string& path, int backlog, int type_flags) {
  EMBER_TRY(sockaddr_un addr, unix_address(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | type_flags, 0));
  if (!fd) return errno_error("socket", path);
  ::unlink(path.c_str());  // a stale socket from an earlier run
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return errno_error("bind", path);
  }
  if (::listen(fd.get(), backlog) != 0) return errno_error("listen", path);
  return fd;
}

}  // namespace ember
