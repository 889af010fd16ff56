// Unix stream sockets: the address of a path, and a listener bound to one.
#pragma once

#include <sys/un.h>

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember {

// The sockaddr for `path`; an error when it is empty or longer than sun_path allows.
Result<sockaddr_un> unix_address(const std::string& path);

// A close-on-exec listening socket bound to `path`, replacing a stale socket file there.
// `type_flags` may add SOCK_NONBLOCK.
Result<UniqueFd> listen_unix(const std::string& path, int backlog, int type_flags = 0);

}  // namespace ember
