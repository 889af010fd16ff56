// Listener: socket creation, stale socket handling and address parsing.
#include "host/api/listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <filesystem>
#include <memory>
#include <system_error>

namespace ember::host {
namespace {

// Connections the kernel completes before emberd accepts them (the I/O thread accepts them
// all as they come; a burst of clients waits here, not refused).
constexpr int kBacklog = 1024;

// Whether some process accepts connections on the Unix socket at path.
bool someone_listens(const sockaddr_un& address) {
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return probe &&
         ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

Status make_parent_dir(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return {};
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) return Error{ec.value(), "create socket directory", parent.string()};
  return {};
}

}  // namespace

Listener::Listener(Listener&& other) noexcept
    : fd_(std::move(other.fd_)),
      description_(std::move(other.description_)),
      unix_path_(std::exchange(other.unix_path_, {})),
      port_(other.port_) {}

Listener::~Listener() {
  if (!unix_path_.empty() && fd_) ::unlink(unix_path_.c_str());
}

Result<Listener> Listener::unix_socket(const std::string& path, mode_t mode) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    return make_error("listen on " + path, "a Unix socket path must have 1 to " +
                                               std::to_string(sizeof address.sun_path - 1) +
                                               " bytes");
  }
  path.copy(address.sun_path, path.size());
  EMBER_CHECK(make_parent_dir(path));

  struct stat existing {};
  if (::lstat(path.c_str(), &existing) == 0) {
    if (!S_ISSOCK(existing.st_mode)) {
      return make_error("listen on " + path, "the path exists and is not a socket");
    }
    if (someone_listens(address)) {
      return make_error("listen on " + path, "another process is serving on it (another emberd?)");
    }
    if (::unlink(path.c_str()) != 0) return errno_error("remove stale socket", path);
  }

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errno_error("socket", path);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return errno_error("bind", path);
  }
  Listener listener(std::move(fd), "unix:" + path, path, 0);  // owns the file from here
  if (::chmod(path.c_str(), mode) != 0) return errno_error("chmod", path);
  if (::listen(listener.fd(), kBacklog) != 0) return errno_error("listen", path);
  return listener;
}

Result<Listener> Listener::tcp(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return make_error("listen on " + host_port, "expected HOST:PORT, e.g. 127.0.0.1:9000");
  }
  std::string host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port.substr(0, 6)) > 65535) {
    return make_error("listen on " + host_port, "the port must be a number 0..65535");
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) return make_error("resolve " + host_port, ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, ::freeaddrinfo);

  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errno_error("socket", host_port);
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
    return errno_error("bind", host_port);
  }
  if (::listen(fd.get(), kBacklog) != 0) return errno_error("listen", host_port);

  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    return errno_error("getsockname", host_port);
  }
  char address[INET6_ADDRSTRLEN] = "?";
  uint16_t bound_port = 0;
  if (bound.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(bound);
    ::inet_ntop(AF_INET, &v4.sin_addr, address, sizeof address);
    bound_port = ntohs(v4.sin_port);
  } else if (bound.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(bound);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, address, sizeof address);
    bound_port = ntohs(v6.sin6_port);
  }
  const std::string shown =
      bound.ss_family == AF_INET6 ? "[" + std::string(address) + "]" : std::string(address);
  return Listener(std::move(fd), "tcp:" + shown + ":" + std::to_string(bound_port), "", bound_port);
}

}  // namespace ember::host
