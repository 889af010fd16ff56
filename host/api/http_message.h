// HttpRequest and HttpResponse: plain HTTP messages between the server and the routes.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::host {

class LaterResponse;

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // as sent (still percent-encoded), without the query
  std::map<std::string, std::string> query;    // decoded names and values
  std::string raw_query;                       // the query as sent, without the '?'
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string peer_address;  // the client's IP address over TCP, "" over the Unix socket
  bool unix_socket = false;  // arrived on the Unix socket (TCP requests are authenticated)
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();

  // The header's value, "" when absent; name in any case.
  std::string header(std::string_view name) const;
  // The query parameter's value, "" when absent.
  std::string query_value(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Set by a handler that answers later (host/api/later_response.h): the answer is what
  // `later` is given, and this response's own fields are not sent.
  std::shared_ptr<LaterResponse> later;

  HttpResponse& set_header(std::string name, std::string value);
  // The value of a header set on this response, "" when absent (case-insensitive).
  std::string header(std::string_view name) const;
};

// Decodes %XX escapes (and '+' as space when `plus_is_space`, as in query strings);
// malformed escapes are kept as they are.
std::string percent_decode(std::string_view text, bool plus_is_space = false);

// Splits a request target "/path?a=1&b=2" into its path and decoded query parameters.
void split_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query);

}  // namespace ember::host
