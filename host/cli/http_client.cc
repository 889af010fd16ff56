// HTTP/1.1 over a connected stream socket: request serialization, response framing and parsing.
#include "host/cli/http_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ember::cli {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

Error bad_response(std::string what) { return make_error("parse HTTP response", std::move(what)); }

// Decodes a chunked body starting at data into body; false when more bytes are needed.
Result<bool> decode_chunked(std::string_view data, std::string& body) {
  body.clear();
  size_t pos = 0;
  for (;;) {
    const size_t eol = data.find("\r\n", pos);
    if (eol == std::string_view::npos) return false;
    std::string_view size_line = data.substr(pos, eol - pos);
    size_line = size_line.substr(0, size_line.find(';'));  // chunk extensions are ignored
    size_line = trim(size_line);
    size_t size = 0;
    auto [end, ec] =
        std::from_chars(size_line.data(), size_line.data() + size_line.size(), size, 16);
    if (ec != std::errc() || end != size_line.data() + size_line.size() || size_line.empty()) {
      return bad_response("bad chunk size '" + std::string(size_line) + "'");
    }
    pos = eol + 2;
    if (size == 0) {
      // Trailer fields, if any, end with an empty line.
      const size_t trailer_end = data.find("\r\n", pos);
      if (trailer_end == std::string_view::npos) return false;
      return trailer_end == pos || data.find("\r\n\r\n", pos) != std::string_view::npos;
    }
    if (data.size() < pos + size + 2) return false;
    body.append(data.substr(pos, size));
    pos += size + 2;
  }
}

enum class Progress { kNeedMore, kDone };

// Parses raw into response; kNeedMore when the response is not complete yet and more
// bytes may come (never when at_eof).
Result<Progress> try_parse(std::string_view raw, bool head_request, bool at_eof,
                           HttpResponse& response) {
  for (;;) {
    const size_t header_end = raw.find("\r\n\r\n");
    if (header_end == std::string_view::npos) {
      if (at_eof) return bad_response(raw.empty() ? "no response" : "incomplete headers");
      return Progress::kNeedMore;
    }
    response = HttpResponse();
    std::string_view head = raw.substr(0, header_end);
    const size_t first_eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, first_eol);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1.") {
      return bad_response("bad status line '" + std::string(status_line.substr(0, 80)) + "'");
    }
    std::string_view code = status_line.substr(9, 3);
    auto [end, ec] = std::from_chars(code.data(), code.data() + 3, response.status);
    if (ec != std::errc() || end != code.data() + 3) {
      return bad_response("bad status code '" + std::string(code) + "'");
    }
    response.reason = std::string(trim(status_line.substr(12)));
    std::string_view fields = first_eol == std::string_view::npos ? "" : head.substr(first_eol + 2);
    while (!fields.empty()) {
      const size_t eol = fields.find("\r\n");
      std::string_view line = fields.substr(0, eol);
      fields = eol == std::string_view::npos ? "" : fields.substr(eol + 2);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) {
        return bad_response("bad header line '" + std::string(line.substr(0, 80)) + "'");
      }
      response.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                                    std::string(trim(line.substr(colon + 1))));
    }
    std::string_view rest = raw.substr(header_end + 4);
    // Interim responses (100 Continue) precede the real one.
    if (response.status >= 100 && response.status < 200) {
      raw = rest;
      continue;
    }
    if (head_request || response.status == 204 || response.status == 304) return Progress::kDone;
    const std::string* encoding = response.header("Transfer-Encoding");
    if (encoding && iequals(trim(*encoding), "chunked")) {
      EMBER_TRY(bool complete, decode_chunked(rest, response.body));
      if (complete) return Progress::kDone;
      if (at_eof) return bad_response("connection closed inside a chunked body");
      return Progress::kNeedMore;
    }
    if (const std::string* length_text = response.header("Content-Length")) {
      size_t length = 0;
      auto [lend, lec] =
          std::from_chars(length_text->data(), length_text->data() + length_text->size(), length);
      if (lec != std::errc() || lend != length_text->data() + length_text->size()) {
        return bad_response("bad Content-Length '" + *length_text + "'");
      }
      if (rest.size() < length) {
        if (at_eof) {
          return bad_response("connection closed after " + std::to_string(rest.size()) + " of " +
                              std::to_string(length) + " body bytes");
        }
        return Progress::kNeedMore;
      }
      response.body = std::string(rest.substr(0, length));
      return Progress::kDone;
    }
    // No framing: the body runs to the end of the connection.
    if (!at_eof) return Progress::kNeedMore;
    response.body = std::string(rest);
    return Progress::kDone;
  }
}

// Waits until fd is ready for events; ETIMEDOUT after timeout (zero: no limit).
Status wait_for(int fd, short events, std::chrono::seconds timeout, const char* what) {
  if (timeout.count() == 0) return {};
  pollfd p{fd, events, 0};
  int n;
  do {
    n = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(timeout).count()));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("poll", what);
  if (n == 0) {
    errno = ETIMEDOUT;
    return errno_error(what, "no progress for " + std::to_string(timeout.count()) + " s");
  }
  return {};
}

}  // namespace

const std::string* HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return &value;
  }
  return nullptr;
}

std::string serialize_request(const HttpRequest& request, std::string_view host) {
  std::string out = request.method + " " + request.target + " HTTP/1.1\r\n";
  out += "Host: " + std::string(host) + "\r\n";
  for (const auto& [name, value] : request.headers) out += name + ": " + value + "\r\n";
  const bool has_body =
      !request.body.empty() || request.method == "POST" || request.method == "PUT";
  if (has_body) out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += request.body;
  return out;
}

Result<HttpResponse> send_request(const UniqueFd& fd, const HttpRequest& request,
                                  std::string_view host, std::chrono::seconds timeout) {
  const std::string wire = serialize_request(request, host);
  size_t sent = 0;
  while (sent < wire.size()) {
    EMBER_CHECK(wait_for(fd.get(), POLLOUT, timeout, "send request"));
    const ssize_t n = ::send(fd.get(), wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      // The server may answer early (an error) and close; its answer is still worth reading.
      if (errno == EPIPE || errno == ECONNRESET) break;
      return errno_error("send request");
    }
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  HttpResponse response;
  char buffer[64 * 1024];
  for (;;) {
    EMBER_CHECK(wait_for(fd.get(), POLLIN, timeout, "read response"));
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET && !raw.empty()) break;
      return errno_error("read response");
    }
    if (n == 0) break;
    raw.append(buffer, static_cast<size_t>(n));
    EMBER_TRY(Progress progress, try_parse(raw, request.method == "HEAD", false, response));
    if (progress == Progress::kDone) return response;
  }
  EMBER_CHECK(try_parse(raw, request.method == "HEAD", true, response));
  return response;
}

Result<HttpResponse> parse_response(std::string_view raw, bool head_request) {
  HttpResponse response;
  EMBER_CHECK(try_parse(raw, head_request, true, response));
  return response;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace ember::cli
