// LoopbackSocket: a TCP socket on an ephemeral loopback port, for the CLI's tests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

#include "common/unique_fd.h"

namespace ember::cli {

// A TCP socket on an ephemeral loopback port; listening or only bound (then a connect to
// it is refused, and no one else can take the port meanwhile).
struct LoopbackSocket {
  UniqueFd fd;
  uint16_t port = 0;
};

inline LoopbackSocket bind_loopback(int family, bool listen) {
  LoopbackSocket s;
  s.fd.reset(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage address{};
  socklen_t length;
  if (family == AF_INET) {
    auto& v4 = reinterpret_cast<sockaddr_in&>(address);
    v4.sin_family = AF_INET;
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof v4;
  } else {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
    v6.sin6_family = AF_INET6;
    v6.sin6_addr = in6addr_loopback;
    length = sizeof v6;
  }
  if (!s.fd || ::bind(s.fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      (listen && ::listen(s.fd.get(), 4) != 0) ||
      ::getsockname(s.fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return {};
  }
  s.port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in&>(address).sin_port
                                   : reinterpret_cast<sockaddr_in6&>(address).sin6_port);
  return s;
}

}  // namespace ember::cli
