// A small blocking HTTP/1.1 client for emberd: one request per connection, which the caller
// opens (connect_endpoint(): Unix socket or TCP).
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
  HttpHeaders headers;  // Host, Content-Length and Connection are added by send_request()
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

// Writes request on the connected fd (with "Host: host" and "Connection: close") and reads
// the whole response. A zero timeout waits forever; otherwise each read or write may block
// at most that long.
Result<HttpResponse> send_request(const UniqueFd& fd, const HttpRequest& request,
                                  std::string_view host,
                                  std::chrono::seconds timeout = std::chrono::seconds(0));

// The request as bytes on the wire; host is the Host header (Endpoint::host_header()).
std::string serialize_request(const HttpRequest& request, std::string_view host);

// Parses a complete response (status line, headers, then a body framed by Content-Length,
// chunked encoding, or the end of the connection). For a response to HEAD pass
// head_request, since its Content-Length describes a body that is not sent.
Result<HttpResponse> parse_response(std::string_view raw, bool head_request = false);

// "%2F"-style encoding of one path segment or query value (RFC 3986 unreserved kept).
std::string percent_encode(std::string_view text);

}  // namespace ember::cli
