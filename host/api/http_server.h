// HttpServer: HTTP/1.1 with a bounded thread per connection, keep-alive, timeouts and drain.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "host/api/http_message.h"
#include "host/api/listener.h"

namespace ember::host {

// Why a request was answered without reaching HttpHandler::handle().
enum class HttpRejection {
  kMalformed,       // not HTTP/1.x the parser accepts
  kHeaderTooLarge,  // the request line and headers pass max_header_bytes
  kBodyTooLarge,    // the body passes body_limit() for its route
};

// What the server serves. Called from many connection threads at once.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // The largest body accepted for a request (path without the query). A larger body is not
  // read: the request is answered with reject(kBodyTooLarge) and the connection closed.
  virtual size_t body_limit(std::string_view method, std::string_view path) const = 0;
  virtual HttpResponse handle(const HttpRequest& request) = 0;
  // The answer to a request that never reached handle(); detail says what was wrong.
  virtual HttpResponse reject(HttpRejection why, std::string_view method, std::string_view path,
                              std::string_view detail) const = 0;
};

struct HttpServerOptions {
  // Connections served at once; further ones wait in the listen backlog until one closes.
  size_t max_connections = 256;
  // A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // A read or write of a request or response that makes no progress for this long closes
  // the connection (a client that stalls mid-request).
  std::chrono::milliseconds io_timeout{std::chrono::seconds(30)};
  size_t max_header_bytes = 64 * 1024;
};

class HttpServer {
 public:
  HttpServer(HttpHandler& handler, HttpServerOptions options = {});
  // stop(), then waits for every connection to close, however long that takes: call
  // wait_idle() with a bound first.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves the listeners from a background accept thread until stop().
  Status start(std::vector<Listener> listeners);

  // Stops accepting (closes the listeners) and closes idle connections; requests being
  // read or handled finish and get their response (with "Connection: close"). Returns at
  // once.
  void stop();
  // Waits until no connection is open; false when timeout passes first.
  bool wait_idle(std::chrono::milliseconds timeout);
  size_t open_connections() const;

 private:
  void accept_loop();
  void serve(UniqueFd connection);
  // Waits until a request starts arriving; false on idle timeout, stop or error.
  bool wait_for_request(int fd) const;

  HttpHandler& handler_;
  const HttpServerOptions options_;
  std::vector<Listener> listeners_;
  UniqueFd stop_event_;  // an eventfd the accept thread polls
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable changed_;  // connections_ went down, or stopping
  size_t connections_ = 0;
  std::thread acceptor_;
};

}  // namespace ember::host
