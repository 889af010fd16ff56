// Endpoint: where emberd is (its Unix socket, or HOST:PORT of `emberd --listen`) and how
// to connect to it. The HTTP exchange over the connection is the same for both.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::cli {

struct Endpoint {
  enum class Kind { kUnix, kTcp };

  Kind kind = Kind::kUnix;
  std::string path;   // kUnix: the socket's path
  std::string host;   // kTcp: a name or an address (IPv6 without brackets)
  uint16_t port = 0;  // kTcp: 1..65535

  static Endpoint unix_socket(std::string path);
  static Endpoint tcp(std::string host, uint16_t port);

  // kTcp: HOST:PORT, an IPv6 address in brackets ("[::1]:9000").
  std::string authority() const;
  // How messages name it: the socket path, or http://HOST:PORT.
  std::string name() const;
  // The Host header of requests: HOST:PORT, or "localhost" over the Unix socket.
  std::string host_header() const;

  bool operator==(const Endpoint&) const = default;
};

// Parses --endpoint or $EMBER_ENDPOINT: http://HOST:PORT or HOST:PORT (a trailing "/" is
// allowed), an IPv6 address as [ADDR]:PORT. The error's message says what is wrong, e.g.
// that TLS (https://) is not supported.
Result<Endpoint> parse_endpoint(std::string_view text);

// Connects to emberd: a Unix stream socket, or TCP to each address the host resolves to
// (IPv4 or IPv6) until one accepts. The error keeps errno (ENOENT, ECONNREFUSED, EACCES,
// ETIMEDOUT) so the caller can explain what is wrong; a name that does not resolve has
// code 0 and the resolver's reason.
Result<UniqueFd> connect_endpoint(const Endpoint& endpoint);

}  // namespace ember::cli
