// LaterResponse: an HTTP answer that a handler gives after handle() has returned, from any
// thread, so a request waiting on something slow (an invocation on its VM) holds no handler
// thread meanwhile. A handler returns deferred_response(later) and gives `later` its answer
// when it has one.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "host/api/http_message.h"

namespace ember::host {

class LaterResponse {
 public:
  using Then = std::function<void(std::optional<HttpResponse>)>;

  LaterResponse() = default;
  // Never given: a registered then() gets std::nullopt (the request goes unanswered and its
  // connection closes).
  ~LaterResponse();
  LaterResponse(const LaterResponse&) = delete;
  LaterResponse& operator=(const LaterResponse&) = delete;

  // The answer; only the first give() counts.
  void give(HttpResponse response);
  // Calls then once with the answer: at once on this thread when it was given already, else
  // on the thread that gives it. One then() per LaterResponse.
  void then(Then then);
  // Blocks until the answer is given, and returns it (tests, synchronous callers).
  HttpResponse wait();

 private:
  std::mutex mu_;
  std::condition_variable given_;
  std::optional<HttpResponse> response_;
  Then then_;
};

// A response whose answer is what `later` is given.
HttpResponse deferred_response(std::shared_ptr<LaterResponse> later);
// The response itself, or for a deferred one the answer, once given.
HttpResponse settled(HttpResponse response);

}  // namespace ember::host
