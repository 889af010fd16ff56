// HttpRequestParser: a line-based head parser and a small state machine for Content-Length
// and chunked bodies; every size is bounded before anything is buffered for it.
#include "guest-agent/http_request.h"

#include <algorithm>
#include <cstdint>

namespace ember::agent {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 tchar.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

// Calls f on each comma-separated element, trimmed, skipping empty ones.
template <typename F>
void for_each_element(std::string_view list, F f) {
  while (!list.empty()) {
    size_t comma = std::min(list.find(','), list.size());
    std::string_view item = trim(list.substr(0, comma));
    if (!item.empty()) f(item);
    list.remove_prefix(std::min(comma + 1, list.size()));
  }
}

}  // namespace

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equals_ignoring_case(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

bool HttpRequest::keep_alive() const {
  bool close = false, keep = false;
  for (const auto& [key, value] : headers) {
    if (!equals_ignoring_case(key, "Connection")) continue;
    for_each_element(value, [&](std::string_view token) {
      close = close || equals_ignoring_case(token, "close");
      keep = keep || equals_ignoring_case(token, "keep-alive");
    });
  }
  if (close) return false;
  return minor_version >= 1 || keep;
}

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  return t.substr(0, std::min(t.find('?'), t.size()));
}

bool HttpRequestParser::fail(int status, std::string message) {
  stage_ = Stage::kFailed;
  error_ = HttpParseError{status, std::move(message), std::nullopt};
  buffer_.clear();
  pos_ = 0;
  return false;
}

std::optional<std::string> HttpRequestParser::take_line(size_t max, int status, const char* what) {
  size_t nl = buffer_.find('\n', pos_);
  size_t length = (nl == std::string::npos ? buffer_.size() : nl + 1) - pos_;
  if (length > max) {
    fail(status, std::string(what) + " is too long");
    return std::nullopt;
  }
  if (nl == std::string::npos) return std::nullopt;
  std::string line = buffer_.substr(pos_, nl - pos_);
  pos_ = nl + 1;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.find('\r') != std::string::npos) {
    fail(400, std::string("bare CR in ") + what);
    return std::nullopt;
  }
  return line;
}

bool HttpRequestParser::parse_request_line(std::string_view line) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "malformed method");
  if (target.empty() ||
      !std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return fail(400, "malformed request target");
  }
  if (version == "HTTP/1.1" || version == "HTTP/1.0") {
    request_.minor_version = version.back() - '0';
  } else if (version.size() == 8 && version.starts_with("HTTP/") && version[6] == '.') {
    return fail(505, "HTTP version not supported");
  } else {
    return fail(400, "malformed HTTP version");
  }
  request_.method = method;
  request_.target = target;
  return true;
}

bool HttpRequestParser::parse_header_line(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') return fail(400, "obsolete header folding");
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    return fail(400, "malformed header line");
  }
  std::string_view value = trim(line.substr(colon + 1));
  for (char c : value) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
      return fail(400, "control character in a header value");
    }
  }
  if (request_.headers.size() >= limits_.max_headers) return fail(431, "too many headers");
  request_.headers.emplace_back(line.substr(0, colon), value);
  return true;
}

bool HttpRequestParser::choose_body_framing() {
  std::optional<uint64_t> length;
  bool chunked = false, other_coding = false, has_transfer_encoding = false;
  for (const auto& [key, value] : request_.headers) {
    if (equals_ignoring_case(key, "Transfer-Encoding")) {
      has_transfer_encoding = true;
      for_each_element(value, [&](std::string_view coding) {
        // chunked must be the only coding: gzip and friends are not decoded here.
        if (equals_ignoring_case(coding, "chunked") && !chunked) {
          chunked = true;
        } else {
          other_coding = true;
        }
      });
    } else if (equals_ignoring_case(key, "Content-Length")) {
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return fail(400, "malformed Content-Length");
      }
      uint64_t n = std::stoull(value);
      if (length && *length != n) return fail(400, "conflicting Content-Length headers");
      length = n;
    }
  }
  if (has_transfer_encoding && length) {
    return fail(400, "both Transfer-Encoding and Content-Length");
  }
  if (has_transfer_encoding && (other_coding || !chunked)) {
    return fail(501, "only the chunked transfer coding is supported");
  }
  auto expect = request_.header("Expect");
  continue_wanted_ = expect && equals_ignoring_case(*expect, "100-continue");
  if (chunked) {
    stage_ = Stage::kChunkSize;
    return true;
  }
  if (length && *length > limits_.max_body_bytes) {
    HttpRequest head = std::move(request_);
    fail(413, "body of " + std::to_string(*length) + " bytes exceeds the limit of " +
                  std::to_string(limits_.max_body_bytes));
    error_->head = std::move(head);
    return false;
  }
  body_left_ = length.value_or(0);
  stage_ = Stage::kBody;
  return true;
}

bool HttpRequestParser::parse_head() {
  for (;;) {
    size_t room = limits_.max_head_bytes - std::min(head_bytes_, limits_.max_head_bytes);
    size_t before = pos_;
    std::optional<std::string> line = take_line(room, 431, "request head");
    if (!line) return false;
    head_bytes_ += pos_ - before;
    if (request_.method.empty()) {
      // Empty lines before a request line are ignored (RFC 9112 section 2.2).
      if (!line->empty() && !parse_request_line(*line)) return false;
      continue;
    }
    if (line->empty()) return choose_body_framing();
    if (!parse_header_line(*line)) return false;
  }
}

std::optional<HttpRequest> HttpRequestParser::finish() {
  HttpRequest done = std::move(request_);
  request_ = HttpRequest{};
  stage_ = Stage::kHead;
  head_bytes_ = 0;
  continue_wanted_ = false;
  buffer_.erase(0, pos_);
  pos_ = 0;
  return done;
}

std::optional<HttpRequest> HttpRequestParser::next() {
  for (;;) {
    switch (stage_) {
      case Stage::kFailed:
        return std::nullopt;
      case Stage::kHead:
        if (!parse_head()) return std::nullopt;
        break;
      case Stage::kBody:
      case Stage::kChunkData: {
        size_t n = std::min(body_left_, buffer_.size() - pos_);
        request_.body.append(buffer_, pos_, n);
        pos_ += n;
        body_left_ -= n;
        if (pos_ == buffer_.size()) {
          buffer_.clear();
          pos_ = 0;
        }
        if (body_left_ > 0) return std::nullopt;
        if (stage_ == Stage::kBody) return finish();
        stage_ = Stage::kChunkDataEnd;
        break;
      }
      case Stage::kChunkSize: {
        std::optional<std::string> line = take_line(1024, 400, "chunk size line");
        if (!line) return std::nullopt;
        std::string_view size = trim(std::string_view(*line).substr(0, line->find(';')));
        if (size.empty() || size.size() > 15 || !std::all_of(size.begin(), size.end(), [](char c) {
              return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            })) {
          fail(400, "malformed chunk size");
          return std::nullopt;
        }
        uint64_t n = std::stoull(std::string(size), nullptr, 16);
        if (n > limits_.max_body_bytes - request_.body.size()) {
          HttpRequest head = std::move(request_);
          head.body.clear();
          fail(413, "chunked body exceeds the limit of " + std::to_string(limits_.max_body_bytes) +
                        " bytes");
          error_->head = std::move(head);
          return std::nullopt;
        }
        body_left_ = n;
        head_bytes_ = 0;
        stage_ = n == 0 ? Stage::kTrailers : Stage::kChunkData;
        break;
      }
      case Stage::kChunkDataEnd: {
        std::optional<std::string> line = take_line(2, 400, "chunk data end");
        if (!line) return std::nullopt;
        if (!line->empty()) {
          fail(400, "chunk data not followed by CRLF");
          return std::nullopt;
        }
        stage_ = Stage::kChunkSize;
        break;
      }
      case Stage::kTrailers: {
        size_t room = limits_.max_head_bytes - std::min(head_bytes_, limits_.max_head_bytes);
        size_t before = pos_;
        std::optional<std::string> line = take_line(room, 431, "trailer section");
        if (!line) return std::nullopt;
        head_bytes_ += pos_ - before;
        if (line->empty()) return finish();  // trailer fields are read and ignored
        break;
      }
    }
  }
}

bool HttpRequestParser::take_continue_request() {
  bool body_pending = stage_ == Stage::kBody || stage_ == Stage::kChunkSize ||
                      stage_ == Stage::kChunkData || stage_ == Stage::kChunkDataEnd;
  if (!continue_wanted_ || !body_pending) return false;
  continue_wanted_ = false;
  return true;
}

const char* http_reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
  }
  return "Unknown";
}

std::string format_http_response(int status,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 std::string_view body, bool keep_alive) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + http_reason(status) + "\r\n";
  for (const auto& [name, value] : headers) {
    out += name;
    out += ": ";
    for (char c : value) {
      if (c != '\r' && c != '\n' && c != '\0') out += c;
    }
    out += "\r\n";
  }
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  out.append(body);
  return out;
}

}  // namespace ember::agent
