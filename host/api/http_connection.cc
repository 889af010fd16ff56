// HttpConnection: one connection's requests, read and answered with Boost.Beast's
// asynchronous operations on the server's I/O thread.
#include "host/api/http_connection.h"

#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <cctype>
#include <cstdio>
#include <exception>
#include <limits>

namespace ember::host {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

// A body larger than its limit is read and thrown away up to this size so the client,
// which is still sending it, sees the 413 instead of a reset connection.
constexpr uint64_t kMaxDiscardBytes = 128ull * 1024 * 1024;
// After the last response, what the client still sends is read for this long, up to
// kMaxDrainBytes, before the connection closes.
constexpr auto kDrainTime = std::chrono::seconds(2);
constexpr size_t kMaxDrainBytes = 1 << 20;
// The time a connection over the bound has to take its 503.
constexpr auto kRefusalTime = std::chrono::seconds(2);

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

}  // namespace

HttpConnection::HttpConnection(HttpServer& server, UniqueFd fd, bool refused)
    : server_(server),
      stream_(server.io_),
      timer_(server.io_),
      refused_(refused),
      unix_socket_(on_unix_socket(fd.get())),
      peer_(peer_address(fd.get())) {
  stream_.assign(fd.release());
}

HttpConnection::~HttpConnection() { server_.closed(this); }

void HttpConnection::serve() { wait_for_request(); }

void HttpConnection::refuse() {
  method_.clear();
  path_.clear();
  reject(HttpRejection::kTooManyConnections,
         "emberd has " + std::to_string(server_.options_.max_connections) +
             " connections open, its --max-connections");
}

void HttpConnection::close_if_idle() {
  if (idle_) close();
}

void HttpConnection::wait_for_request() {
  if (server_.stopping_) return close_gently();
  if (buffer_.size() > 0) return read_header();  // the client sent it with the last one
  idle_ = true;
  deadline(server_.options_.idle_timeout);
  stream_.async_wait(asio::posix::descriptor_base::wait_read,
                     [self = shared_from_this()](const error_code& ec) {
                       self->idle_ = false;
                       if (ec) return self->close();
                       self->read_header();
                     });
}

void HttpConnection::read_header() {
  deadline(server_.options_.request_timeout);
  request_.emplace();
  request_->header_limit(static_cast<std::uint32_t>(server_.options_.max_header_bytes));
  // No limit until the path is known (boost::none would compare as exceeded in Beast 1.74).
  request_->body_limit(std::numeric_limits<std::uint64_t>::max());
  method_.clear();
  path_.clear();
  version_ = 11;
  http::async_read_header(stream_, buffer_, *request_,
                          [self = shared_from_this()](const error_code& ec, size_t) {
                            self->on_header(ec);
                          });
}

void HttpConnection::on_header(const error_code& ec) {
  if (ec == http::error::header_limit) return reject(HttpRejection::kHeaderTooLarge, ec.message());
  if (ec && is_http_error(ec) && ec != http::error::end_of_stream &&
      ec != http::error::partial_message) {
    return reject(HttpRejection::kMalformed, ec.message());
  }
  if (ec) return close();  // the client went away, stalled or closed between requests

  const auto& header = request_->get();
  version_ = header.version();
  method_ = std::string(header.method_string());
  std::map<std::string, std::string> query;
  split_target(header.target(), path_, query);
  const size_t limit = server_.handler_.body_limit(method_, path_);
  const bool expects_continue =
      strcasecmp(std::string(header[http::field::expect]).c_str(), "100-continue") == 0;
  if (const auto length = request_->content_length(); length && *length > limit) {
    auto answer = [self = shared_from_this(), length = *length] {
      self->reject(HttpRejection::kBodyTooLarge, "Content-Length " + std::to_string(length));
    };
    // With "Expect: 100-continue" the client waits for us and sends no body.
    if (expects_continue || *length > kMaxDiscardBytes) return answer();
    return discard(*length, std::move(answer));
  }
  request_->body_limit(limit);
  if (expects_continue && !request_->is_done()) {
    proceed_ = std::make_unique<http::response<http::empty_body>>(http::status::continue_,
                                                                   version_);
    http::async_write(stream_, *proceed_,
                      [self = shared_from_this()](const error_code& error, size_t) {
                        self->proceed_.reset();
                        if (error) return self->close();
                        self->read_body();
                      });
    return;
  }
  read_body();
}

void HttpConnection::read_body() {
  http::async_read(stream_, buffer_, *request_,
                   [self = shared_from_this()](const error_code& ec, size_t) { self->on_body(ec); });
}

void HttpConnection::on_body(const error_code& ec) {
  if (ec == http::error::body_limit) return reject(HttpRejection::kBodyTooLarge, ec.message());
  if (ec && is_http_error(ec) && ec != http::error::partial_message) {
    return reject(HttpRejection::kMalformed, ec.message());
  }
  if (ec) return close();
  run_handler();
}

void HttpConnection::run_handler() {
  ++deadline_id_;  // the handler's time is its own: no deadline while it runs
  timer_.cancel();
  const bool keep_alive = request_->get().keep_alive();
  auto request =
      std::make_shared<HttpRequest>(to_request(request_->release(), peer_, unix_socket_));
  request_.reset();
  server_.handlers_.post([self = shared_from_this(), request, keep_alive]() mutable {
    std::optional<HttpResponse> response;
    try {
      response = self->server_.handler_.handle(*request);
    } catch (const std::exception& e) {
      // E.g. no memory for a large answer: this connection ends, the daemon goes on.
      std::fprintf(stderr, "emberd: %s %s dropped: %s\n", request->method.c_str(),
                   request->path.c_str(), e.what());
    }
    if (response && response->later) {
      // Answered later, from whichever thread gives it: this handler thread is free now.
      std::shared_ptr<LaterResponse> later = std::move(response->later);
      later->then([self = std::move(self), keep_alive](std::optional<HttpResponse> answer) {
        answer_on_io_thread(self, std::move(answer), keep_alive);
      });
      return;
    }
    answer_on_io_thread(std::move(self), std::move(response), keep_alive);
  });
}

void HttpConnection::answer_on_io_thread(std::shared_ptr<HttpConnection> self,
                                         std::optional<HttpResponse> response, bool keep_alive) {
  HttpConnection& connection = *self;
  // The connection goes back to the I/O thread, with the last reference to it.
  asio::post(connection.stream_.get_executor(),
             [self = std::move(self), response = std::move(response), keep_alive] {
               if (!response) return self->close();
               self->respond(*response, keep_alive && !self->server_.stopping_);
             });
}

void HttpConnection::respond(const HttpResponse& response, bool keep_open) {
  response_ = std::make_unique<http::response<http::string_body>>();
  response_->version(version_);
  response_->result(static_cast<unsigned>(response.status));
  for (const auto& [name, value] : response.headers) response_->insert(name, value);
  response_->body() = response.body;
  response_->keep_alive(keep_open);
  response_->prepare_payload();
  deadline(refused_ ? std::chrono::duration_cast<std::chrono::milliseconds>(kRefusalTime)
                    : server_.options_.request_timeout);
  http::async_write(stream_, *response_,
                    [self = shared_from_this(), keep_open](const error_code& ec, size_t) {
                      self->response_.reset();
                      if (ec) return self->close();
                      if (keep_open) return self->wait_for_request();
                      self->close_gently();
                    });
}

void HttpConnection::reject(HttpRejection why, const std::string& detail) {
  respond(server_.handler_.reject(why, method_, path_, detail), false);
}

void HttpConnection::discard(uint64_t remaining, Done done) {
  const uint64_t buffered = std::min<uint64_t>(buffer_.size(), remaining);
  buffer_.consume(buffered);
  remaining -= buffered;
  if (remaining == 0) return done();
  scratch_.resize(64 * 1024);
  stream_.async_read_some(
      asio::buffer(scratch_.data(), std::min<uint64_t>(scratch_.size(), remaining)),
      [self = shared_from_this(), remaining, done = std::move(done)](const error_code& ec,
                                                                     size_t n) mutable {
        if (ec) return self->close();
        self->discard(remaining - n, std::move(done));
      });
}

void HttpConnection::close_gently() {
  ::shutdown(stream_.native_handle(), SHUT_WR);
  deadline(std::chrono::duration_cast<std::chrono::milliseconds>(kDrainTime));
  drain_then_close(kMaxDrainBytes);
}

void HttpConnection::drain_then_close(size_t budget) {
  scratch_.resize(16 * 1024);
  stream_.async_read_some(asio::buffer(scratch_),
                          [self = shared_from_this(), budget](const error_code& ec, size_t n) {
                            if (ec || n >= budget) return self->close();
                            self->drain_then_close(budget - n);
                          });
}

void HttpConnection::close() {
  idle_ = false;
  ++deadline_id_;
  timer_.cancel();
  error_code ignored;
  stream_.close(ignored);
}

void HttpConnection::deadline(std::chrono::milliseconds timeout) {
  const uint64_t id = ++deadline_id_;
  timer_.expires_after(timeout);
  // A timer that already fired cannot be cancelled: its id tells a stale expiry apart.
  timer_.async_wait([weak = weak_from_this(), id](const error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock(); self && self->deadline_id_ == id) self->close();
  });
}

}  // namespace ember::host
