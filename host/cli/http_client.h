// A small blocking HTTP/1.1 client for emberd's Unix socket: one request per connection.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::cli {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string target;   // path and query, already percent-encoded
  HttpHeaders headers;  // Host, Content-Length and Connection are added by send()
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  HttpHeaders headers;
  std::string body;

  // The first header with this name (compared case-insensitively), or nullptr.
  const std::string* header(std::string_view name) const;
};

// Connects to a Unix stream socket. The error keeps errno (ENOENT, ECONNREFUSED, EACCES)
// so the caller can explain what is wrong.
Result<UniqueFd> connect_unix(const std::string& path);

// Writes request on fd (with "Connection: close") and reads the whole response. A zero
// timeout waits forever; otherwise each read or write may block at most that long.
Result<HttpResponse> send_request(const UniqueFd& fd, const HttpRequest& request,
                                  std::chrono::seconds timeout = std::chrono::seconds(0));

// The request as bytes on the wire.
std::string serialize_request(const HttpRequest& request);

// Parses a complete response (status line, headers, then a body framed by Content-Length,
// chunked encoding, or the end of the connection). For a response to HEAD pass
// head_request, since its Content-Length describes a body that is not sent.
Result<HttpResponse> parse_response(std::string_view raw, bool head_request = false);

// "%2F"-style encoding of one path segment or query value (RFC 3986 unreserved kept).
std::string percent_encode(std::string_view text);

}  // namespace ember::cli
