// HttpRequestParser: incremental, size-bounded HTTP/1.x request parsing; response framing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::agent {

struct HttpRequest {
  std::string method;
  std::string target;                                        // as sent: origin-form path and query
  int minor_version = 1;                                     // HTTP/1.<minor_version>
  std::vector<std::pair<std::string, std::string>> headers;  // values without outer spaces
  std::string body;                                          // decoded (chunked bodies are joined)

  // The first header with this name, compared case-insensitively.
  std::optional<std::string_view> header(std::string_view name) const;
  // HTTP/1.1 keeps the connection unless "Connection: close"; 1.0 only with "keep-alive".
  bool keep_alive() const;
  // The path without the query string.
  std::string_view path() const;
};

struct HttpLimits {
  size_t max_head_bytes = 16 * 1024;  // request line and headers (and chunked trailers)
  size_t max_headers = 100;
  size_t max_body_bytes = 6u << 20;
};

// Why a request was refused: the status to answer, and what to tell the client. The
// connection cannot be trusted afterwards and should be closed after the answer.
struct HttpParseError {
  int status = 400;  // 400, 413 (body too large), 431 (head too large), 501, 505
  std::string message;
  // For 413: the request whose body was refused (method, target and headers, no body).
  std::optional<HttpRequest> head;
};

class HttpRequestParser {
 public:
  explicit HttpRequestParser(HttpLimits limits = {}) : limits_(limits) {}

  void feed(std::string_view bytes) { buffer_.append(bytes); }

  // The next complete request. std::nullopt when more bytes are needed, or once the stream
  // is bad: then error() says why and every later call returns std::nullopt.
  std::optional<HttpRequest> next();
  const std::optional<HttpParseError>& error() const { return error_; }

  // True once per request, when its head asked for "Expect: 100-continue" and its body has
  // not fully arrived: the server should answer "100 Continue" now.
  bool take_continue_request();

 private:
  enum class Stage { kHead, kBody, kChunkSize, kChunkData, kChunkDataEnd, kTrailers, kFailed };

  // One line ending in LF (a CR before it is dropped); std::nullopt until it is complete.
  // Lines longer than `max` fail the stream with `status`.
  std::optional<std::string> take_line(size_t max, int status, const char* what);
  bool parse_head();
  bool parse_request_line(std::string_view line);
  bool parse_header_line(std::string_view line);
  bool choose_body_framing();
  bool fail(int status, std::string message);
  std::optional<HttpRequest> finish();

  HttpLimits limits_;
  std::string buffer_;
  size_t pos_ = 0;         // start of unparsed bytes in buffer_
  size_t head_bytes_ = 0;  // bytes of the current head (or trailers) so far
  Stage stage_ = Stage::kHead;
  HttpRequest request_;
  size_t body_left_ = 0;  // kBody: bytes still to come; kChunkData: bytes left in the chunk
  bool continue_wanted_ = false;
  std::optional<HttpParseError> error_;
};

// One HTTP/1.1 response with Content-Length (and "Connection: close" unless keep_alive).
// Header values are stripped of CR, LF and NUL so nothing can be injected through them.
std::string format_http_response(int status,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 std::string_view body, bool keep_alive);

// The standard reason phrase ("Accepted" for 202); "Unknown" for codes not used here.
const char* http_reason(int status);

}  // namespace ember::agent
