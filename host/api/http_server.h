// HttpServer: HTTP/1.1 over asynchronous I/O (Boost.Asio and Beast) with keep-alive, a bound
// on open connections, whole-request deadlines and drain. Handlers run on a thread pool; one
// that answers later (host/api/later_response.h) holds no thread while its answer is pending.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "host/api/handler_threads.h"
#include "host/api/http_message.h"
#include "host/api/listener.h"

namespace ember::host {

// Why a request was answered without reaching HttpHandler::handle().
enum class HttpRejection {
  kMalformed,           // not HTTP/1.x the parser accepts
  kHeaderTooLarge,      // the request line and headers pass max_header_bytes
  kBodyTooLarge,        // the body passes body_limit() for its route
  kTooManyConnections,  // the connection would pass max_connections
};

// What the server serves. Called from many handler threads at once.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // The largest body accepted for a request (path without the query). A larger body is not
  // read: the request is answered with reject(kBodyTooLarge) and the connection closed.
  virtual size_t body_limit(std::string_view method, std::string_view path) const = 0;
  // The answer, or deferred_response() for one given later from any thread.
  virtual HttpResponse handle(const HttpRequest& request) = 0;
  // The answer to a request that never reached handle(); detail says what was wrong. Called
  // on the server's I/O thread: it must not block.
  virtual HttpResponse reject(HttpRejection why, std::string_view method, std::string_view path,
                              std::string_view detail) const = 0;
};

struct HttpServerOptions {
  // Connections open at once. A client connecting over the bound gets
  // reject(kTooManyConnections) and its connection is closed.
  size_t max_connections = 4096;
  // Requests handled at once, one handler thread each until handle() returns (a deferred
  // answer holds none while pending); further complete requests wait in a queue (an idle
  // connection, or one whose request is still arriving, holds no thread).
  size_t handler_threads = 64;
  // A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // A request's line, headers and body must all arrive within this of its first byte, and a
  // response must be written within it; else the connection is closed (a slow client).
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  size_t max_header_bytes = 64 * 1024;
};

class HttpConnection;

class HttpServer {
 public:
  HttpServer(HttpHandler& handler, HttpServerOptions options = {});
  // stop(), then waits for every connection to close, however long that takes: call
  // wait_idle() with a bound first.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves the listeners from the I/O thread until stop().
  Status start(std::vector<Listener> listeners);

  // Stops accepting (closes the listeners) and closes idle connections; requests being
  // read or handled finish and get their response (with "Connection: close"). Returns once
  // the listeners are closed.
  void stop();
  // Waits until no connection is open; false when timeout passes first.
  bool wait_idle(std::chrono::milliseconds timeout);
  size_t open_connections() const;

 private:
  friend class HttpConnection;
  // Each of a listener's pending connections is accepted, served or refused.
  void watch(size_t listener);
  void accept_all(size_t listener);
  void closed(HttpConnection* connection);  // from ~HttpConnection

  HttpHandler& handler_;
  const HttpServerOptions options_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> io_work_;
  HandlerThreads handlers_;
  std::vector<Listener> listeners_;
  // Copies of the listeners' fds that the I/O thread waits on.
  std::vector<std::unique_ptr<boost::asio::posix::stream_descriptor>> watched_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable changed_;  // a connection closed
  std::map<HttpConnection*, std::weak_ptr<HttpConnection>> open_;  // served, not refused
  size_t refusing_ = 0;  // connections over the bound being answered 503
  std::thread io_thread_;
};

}  // namespace ember::host
