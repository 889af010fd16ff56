// Unix stream sockets: the address of a path, and a listener bound to one.
#pragma once

#include <sys/un.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember {

// The sockaddr for `path`; an error when it is empty or longer than sun_path allows.
Result<sockaddr_un> unix_address(const std::string& path);

// A close-on-exec listening socket bound to `path`, replacing a stale socket file there.
// `type_flags` may add SOCK_NONBLOCK.
Result<UniqueFd> listen_unix(const std::string& path, int backlog, int type_flags = 0);

using SocketDeadline = std::optional<std::chrono::steady_clock::time_point>;

// Waits until fd is ready for `events` (POLLIN, POLLOUT); an ETIMEDOUT error naming `what`
// once the deadline (none: no bound) passes first.
Status wait_socket_ready(int fd, short events, SocketDeadline deadline, const char* what);

// Sends all of bytes by the deadline: a peer that stops reading cannot hold the caller past
// it (an ETIMEDOUT error naming `what`).
Status send_all(int fd, std::string_view bytes, SocketDeadline deadline, const char* what);

}  // namespace ember
