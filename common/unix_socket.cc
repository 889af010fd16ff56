// Unix stream socket helpers.
#include "common/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

Status wait_socket_ready(int fd, short events, SocketDeadline deadline, const char* what) {
  for (;;) {
    int ms = -1;
    if (deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            *deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) {
        errno = ETIMEDOUT;
        return errno_error(what);
      }
      ms = static_cast<int>(std::min<int64_t>(left, 1 << 30));
    }
    pollfd p = {fd, events, 0};
    const int n = ::poll(&p, 1, ms);
    if (n > 0) return {};
    if (n < 0 && errno != EINTR) return errno_error(what, "poll");
  }
}

Status send_all(int fd, std::string_view bytes, SocketDeadline deadline, const char* what) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      EMBER_CHECK(wait_socket_ready(fd, POLLOUT, deadline, what));
      continue;
    }
    if (n < 0) return errno_error(what);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace ember
