// Endpoint parsing (http://HOST:PORT) and connecting: Unix socket, or TCP via getaddrinfo.
#include "host/cli/endpoint.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <memory>

namespace ember::cli {
namespace {

// How long a TCP connect may wait for an answer (a VM that is down drops the SYN).
constexpr std::chrono::seconds kConnectTimeout(10);

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Result<UniqueFd> connect_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return errno_error("connect", path.empty() ? "empty socket path" : path);
  }
  path.copy(addr.sun_path, path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errno_error("socket");
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return errno_error("connect", path);
  return fd;
}

// Connects to one resolved address, waiting at most kConnectTimeout; the socket is
// blocking again once connected (send_request polls when it has a timeout).
Result<UniqueFd> connect_address(const addrinfo& address, const std::string& what) {
  UniqueFd fd(::socket(address.ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                       address.ai_protocol));
  if (!fd) return errno_error("socket", what);
  if (::connect(fd.get(), address.ai_addr, address.ai_addrlen) != 0) {
    // An interrupted non-blocking connect goes on in the background, like EINPROGRESS.
    if (errno != EINPROGRESS && errno != EINTR) return errno_error("connect", what);
    pollfd p{fd.get(), POLLOUT, 0};
    int n;
    do {
      n = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kConnectTimeout).count()));
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno_error("poll", what);
    if (n == 0) {
      errno = ETIMEDOUT;
      return errno_error("connect", what);
    }
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      return errno_error("getsockopt", what);
    }
    if (error != 0) {
      errno = error;
      return errno_error("connect", what);
    }
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return errno_error("fcntl", what);
  }
  return fd;
}

// Tries every address of the host in getaddrinfo's order; the last failure if none works.
Result<UniqueFd> connect_tcp(const Endpoint& endpoint) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  const int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found);
  if (rc == EAI_SYSTEM) return errno_error("resolve", endpoint.host);
  if (rc != 0) return make_error("resolve " + endpoint.host, ::gai_strerror(rc));
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, ::freeaddrinfo);
  Error last = make_error("resolve " + endpoint.host, "no address");
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    auto fd = connect_address(*a, endpoint.authority());
    if (fd.ok()) return fd;
    last = fd.error();
  }
  return last;
}

}  // namespace

Endpoint Endpoint::unix_socket(std::string path) {
  Endpoint e;
  e.kind = Kind::kUnix;
  e.path = std::move(path);
  return e;
}

Endpoint Endpoint::tcp(std::string host, uint16_t port) {
  Endpoint e;
  e.kind = Kind::kTcp;
  e.host = std::move(host);
  e.port = port;
  return e;
}

std::string Endpoint::authority() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Endpoint::name() const {
  return kind == Kind::kUnix ? path : "http://" + authority();
}

std::string Endpoint::host_header() const {
  return kind == Kind::kUnix ? "localhost" : authority();
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  auto bad = [text](std::string why) {
    return make_error("'" + std::string(text) + "'", std::move(why));
  };
  std::string_view rest = text;
  if (const size_t scheme_end = rest.find("://"); scheme_end != std::string_view::npos) {
    const std::string scheme = lower(rest.substr(0, scheme_end));
    rest.remove_prefix(scheme_end + 3);
    if (scheme == "https") {
      return bad("TLS is not supported (emberd serves plain HTTP): use http://" +
                 std::string(rest));
    }
    if (scheme != "http") return bad("only http:// is supported, not " + scheme + "://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return bad("expected http://HOST:PORT, without a path, query or user");
  }
  std::string_view host, port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("']' is missing after the IPv6 address");
    host = rest.substr(1, close - 1);
    const std::string_view after = rest.substr(close + 1);
    if (after.empty() || after.front() != ':') {
      return bad("the port is missing: expected [ADDRESS]:PORT, e.g. [::1]:9000");
    }
    port = after.substr(1);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return bad("the port is missing: expected HOST:PORT, e.g. 127.0.0.1:9000");
    }
    host = rest.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return bad("an IPv6 address goes in brackets: [ADDRESS]:PORT, e.g. [::1]:9000");
    }
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return bad("the host is missing: expected HOST:PORT, e.g. 127.0.0.1:9000");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return bad("the port must be a number 1..65535, not '" + std::string(port) + "'");
  }
  return Endpoint::tcp(std::string(host), static_cast<uint16_t>(value));
}

Result<UniqueFd> connect_endpoint(const Endpoint& endpoint) {
  return endpoint.kind == Endpoint::Kind::kUnix ? connect_unix(endpoint.path)
                                                : connect_tcp(endpoint);
}

}  // namespace ember::cli
