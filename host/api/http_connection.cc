// HttpServer::serve: one connection's requests, read and answered with Boost.Beast.
#include "host/api/http_server.h"

#include <poll.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <limits>

#include "host/api/fd_stream.h"

namespace ember::host {
namespace {

namespace http = boost::beast::http;
using boost::system::error_code;

// A body larger than its limit is read and thrown away up to this size so the client,
// which is still sending it, sees the 413 instead of a reset connection.
constexpr uint64_t kMaxDiscardBytes = 128ull * 1024 * 1024;

bool is_http_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The connection's peer IP address, "" when it is not an IP socket.
std::string peer_address(int fd) {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, text, sizeof text);
  } else if (peer.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, text, sizeof text);
  }
  return text;
}

// Whether the connection is on a Unix socket (its local address is AF_UNIX).
bool on_unix_socket(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0 &&
         local.ss_family == AF_UNIX;
}

HttpRequest to_request(http::request<http::string_body>&& message, const std::string& peer,
                       bool unix_socket) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  split_target(message.target(), request.path, request.query);
  const std::string_view target = message.target();
  if (const size_t mark = target.find('?'); mark != std::string_view::npos) {
    request.raw_query = std::string(target.substr(mark + 1));
  }
  request.peer_address = peer;
  request.unix_socket = unix_socket;
  for (const auto& field : message) {
    std::string& value = request.headers[lower(field.name_string())];
    value += (value.empty() ? "" : ",") + std::string(field.value());
  }
  request.body = std::move(message.body());
  request.received = std::chrono::steady_clock::now();
  return request;
}

bool write_response(FdStream& stream, const HttpResponse& response, unsigned version,
                    bool keep_alive) {
  http::response<http::string_body> message;
  message.version(version);
  message.result(static_cast<unsigned>(response.status));
  for (const auto& [name, value] : response.headers) message.insert(name, value);
  message.body() = response.body;
  message.keep_alive(keep_alive);
  message.prepare_payload();
  error_code ec;
  http::write(stream, message, ec);
  return !ec;
}

// Reads and drops the rest of a body of `length` bytes (some may already be buffered).
void discard_body(FdStream& stream, boost::beast::flat_buffer& buffer, uint64_t length) {
  if (length > kMaxDiscardBytes) return;
  const uint64_t buffered = std::min<uint64_t>(buffer.size(), length);
  buffer.consume(buffered);
  uint64_t remaining = length - buffered;
  char scratch[64 * 1024];
  while (remaining > 0) {
    error_code ec;
    const size_t n = stream.read_some(
        boost::asio::buffer(scratch, std::min<uint64_t>(sizeof scratch, remaining)), ec);
    if (ec) return;
    remaining -= n;
  }
}

// Closes the sending side first and reads what the client still sends for a moment, so a
// response followed by a close reaches a client that has not finished writing.
void close_gently(int fd) {
  ::shutdown(fd, SHUT_WR);
  char scratch[16 * 1024];
  for (int rounds = 0; rounds < 64; ++rounds) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) return;
    if (::recv(fd, scratch, sizeof scratch, 0) <= 0) return;
  }
}

}  // namespace

void HttpServer::serve(UniqueFd connection) {
  FdStream stream(connection.get(), options_.io_timeout);
  const std::string peer = peer_address(connection.get());
  const bool unix_socket = on_unix_socket(connection.get());
  boost::beast::flat_buffer buffer;
  while (true) {
    if (buffer.size() == 0 && !wait_for_request(connection.get())) return;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    // No limit until the path is known (boost::none would compare as exceeded in Beast 1.74).
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    error_code ec;
    http::read_header(stream, buffer, parser, ec);
    if (ec == http::error::header_limit) {
      write_response(stream, handler_.reject(HttpRejection::kHeaderTooLarge, "", "", ec.message()),
                     11, false);
      return close_gently(connection.get());
    }
    if (ec && is_http_error(ec) && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      write_response(stream, handler_.reject(HttpRejection::kMalformed, "", "", ec.message()), 11,
                     false);
      return close_gently(connection.get());
    }
    if (ec) return;  // the client went away, stalled or closed between requests

    const auto& header = parser.get();
    const unsigned version = header.version();
    const std::string method(header.method_string());
    std::string path;
    std::map<std::string, std::string> query;
    split_target(header.target(), path, query);
    const size_t limit = handler_.body_limit(method, path);
    const bool expects_continue =
        strcasecmp(std::string(header[http::field::expect]).c_str(), "100-continue") == 0;
    const auto length = parser.content_length();
    if (length && *length > limit) {
      // With "Expect: 100-continue" the client waits for us and sends no body.
      if (!expects_continue) discard_body(stream, buffer, *length);
      write_response(stream,
                     handler_.reject(HttpRejection::kBodyTooLarge, method, path,
                                     "Content-Length " + std::to_string(*length)),
                     version, false);
      return close_gently(connection.get());
    }
    parser.body_limit(limit);
    if (expects_continue && !parser.is_done()) {
      http::response<http::empty_body> proceed{http::status::continue_, version};
      http::write(stream, proceed, ec);
      if (ec) return;
    }
    http::read(stream, buffer, parser, ec);
    if (ec == http::error::body_limit) {
      write_response(stream,
                     handler_.reject(HttpRejection::kBodyTooLarge, method, path, ec.message()),
                     version, false);
      return close_gently(connection.get());
    }
    if (ec && is_http_error(ec) && ec != http::error::partial_message) {
      write_response(stream, handler_.reject(HttpRejection::kMalformed, method, path, ec.message()),
                     version, false);
      return close_gently(connection.get());
    }
    if (ec) return;

    const bool keep_alive = parser.get().keep_alive();
    const HttpResponse response = handler_.handle(to_request(parser.release(), peer, unix_socket));
    const bool keep_open = keep_alive && !stopping_;
    if (!write_response(stream, response, version, keep_open)) return;
    if (!keep_open) return close_gently(connection.get());
  }
}

}  // namespace ember::host
