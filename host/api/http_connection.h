// HttpConnection: one client connection of HttpServer, driven by completions on the server's
// I/O thread: wait for a request, read it within its deadline, hand it to a handler thread,
// write the answer (when the handler returns, or when its deferred answer is given), and
// again while the client keeps the connection alive.
#pragma once

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "host/api/http_server.h"
#include "host/api/later_response.h"

namespace ember::host {

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(HttpServer& server, UniqueFd fd, bool refused);
  ~HttpConnection();  // tells the server

  // Serves requests until the client closes, a deadline passes or the server stops.
  void serve();
  // Answers reject(kTooManyConnections) at once and closes.
  void refuse();
  // The server is stopping: a connection waiting for its next request closes now.
  void close_if_idle();
  bool refused() const { return refused_; }

 private:
  using Request = boost::beast::http::request_parser<boost::beast::http::string_body>;
  using Done = std::function<void()>;

  void wait_for_request();
  void read_header();
  void on_header(const boost::system::error_code& ec);
  void read_body();
  void on_body(const boost::system::error_code& ec);
  void run_handler();
  // Hands the handler's answer (none: close) to the I/O thread, which writes it.
  static void answer_on_io_thread(std::shared_ptr<HttpConnection> self,
                                  std::optional<HttpResponse> response, bool keep_alive);
  // Writes the response; then the next request when keep_open, else a gentle close.
  void respond(const HttpResponse& response, bool keep_open);
  // A request answered without its handler, then the connection closes.
  void reject(HttpRejection why, const std::string& detail);
  // Reads and drops `remaining` more bytes of a body, then calls done.
  void discard(uint64_t remaining, Done done);
  // Closes the sending side, reads what the client still sends for a moment (so it sees
  // the response, not a reset), then closes.
  void close_gently();
  void drain_then_close(size_t budget);
  void close();
  // Closes the connection when `timeout` passes before the next deadline() call.
  void deadline(std::chrono::milliseconds timeout);

  HttpServer& server_;
  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer timer_;
  const bool refused_;
  const bool unix_socket_;
  const std::string peer_;
  boost::beast::flat_buffer buffer_;
  std::optional<Request> request_;
  std::string method_, path_;  // of the request being read, for rejections
  unsigned version_ = 11;
  std::unique_ptr<boost::beast::http::response<boost::beast::http::string_body>> response_;
  std::unique_ptr<boost::beast::http::response<boost::beast::http::empty_body>> proceed_;
  std::vector<char> scratch_;  // for bytes read only to be dropped
  bool idle_ = false;          // waiting for a request: close_if_idle() closes it
  uint64_t deadline_id_ = 0;   // the current deadline's; 0 or stale: none set
};

}  // namespace ember::host
