// LaterResponse: the hand-over of one answer between the giving thread and the server.
#include "host/api/later_response.h"

#include <utility>

namespace ember::host {

LaterResponse::~LaterResponse() {
  if (then_ && !response_) then_(std::nullopt);
}

void LaterResponse::give(HttpResponse response) {
  Then then;
  {
    std::lock_guard lock(mu_);
    if (response_) return;
    response_ = std::move(response);
    then = std::move(then_);
    then_ = nullptr;
    given_.notify_all();
  }
  if (then) then(*response_);
}

void LaterResponse::then(Then then) {
  {
    std::lock_guard lock(mu_);
    if (!response_) {
      then_ = std::move(then);
      return;
    }
  }
  then(*response_);
}

HttpResponse LaterResponse::wait() {
  std::unique_lock lock(mu_);
  given_.wait(lock, [this] { return response_.has_value(); });
  return *response_;
}

HttpResponse deferred_response(std::shared_ptr<LaterResponse> later) {
  HttpResponse response;
  response.later = std::move(later);
  return response;
}

HttpResponse settled(HttpResponse response) {
  if (!response.later) return response;
  return response.later->wait();
}

}  // namespace ember::host
