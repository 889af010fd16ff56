// RuntimeApiServer: Lambda's Runtime API (2018-06-01) over HTTP/1.1 on 127.0.0.1, in front of
// an InvocationBroker.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "common/unique_fd.h"
#include "guest-agent/http_request.h"
#include "guest-agent/invocation_broker.h"

namespace ember::agent {

// Routes, as Lambda serves them:
//   GET  /2018-06-01/runtime/invocation/next          200, the event and Lambda-Runtime-*
//                                                      headers (blocks until one is queued)
//   POST /2018-06-01/runtime/invocation/{id}/response  202; 400 for an id not being served
//   POST /2018-06-01/runtime/invocation/{id}/error     202 (Lambda-Runtime-Function-Error-Type)
//   POST /2018-06-01/runtime/init/error                202; 403 once init is over
// Other paths 404, other methods 405, bodies over kMaxInvokePayload 413 (a response that
// large ends its invocation as Function.ResponseSizeTooLarge), malformed requests 400; after
// 4xx answers to unparsable requests the connection is closed. Connections are kept alive.
class RuntimeApiServer {
 public:
  // Binds 127.0.0.1:port (0: an ephemeral port) and starts the accept thread.
  static Result<std::unique_ptr<RuntimeApiServer>> start(uint16_t port, InvocationBroker& broker);
  // Stops accepting, shuts every connection down and joins all threads. Close the broker
  // first, so that no connection stays blocked in `next`.
  ~RuntimeApiServer();
  RuntimeApiServer(const RuntimeApiServer&) = delete;
  RuntimeApiServer& operator=(const RuntimeApiServer&) = delete;

  uint16_t port() const { return port_; }

 private:
  struct Connection {
    UniqueFd fd;
    std::thread thread;
    std::atomic<bool> finished{false};
  };

  RuntimeApiServer(UniqueFd listener, UniqueFd stop, uint16_t port, InvocationBroker& broker)
      : listener_(std::move(listener)), stop_(std::move(stop)), port_(port), broker_(broker) {}

  void accept_loop();
  void serve(int fd);
  // Answers one request; false when the connection must close.
  bool handle(int fd, const HttpRequest& request);
  // GET .../next: blocks in the broker, then sends the invocation.
  bool handle_next(int fd, const HttpRequest& request);
  // The reply to any other request.
  std::string answer(const HttpRequest& request);
  void answer_parse_error(int fd, const HttpParseError& error);

  UniqueFd listener_;
  UniqueFd stop_;  // eventfd: the accept loop ends when it is written
  uint16_t port_;
  InvocationBroker& broker_;
  std::thread accept_thread_;
  std::list<std::unique_ptr<Connection>> connections_;  // touched by the accept thread only
};

}  // namespace ember::agent
