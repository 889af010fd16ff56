// InvocationBroker: one mutex and condition variable for the agent's waiters; an eventfd per
// blocked `next`, so that it can watch its connection for a hang-up at the same time.
#include "guest-agent/invocation_broker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "common/unique_fd.h"
#include "guest-agent/monotonic_clock.h"

namespace ember::agent {
namespace {

// True when the peer closed or the socket failed; false when it is open (with or without
// bytes to read).
bool hung_up(int fd) {
  char c;
  ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// CLOCK_REALTIME in milliseconds since the epoch.
uint64_t realtime_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

uint64_t InvocationBroker::deadline_unix_ms() const {
  std::lock_guard lock(mu_);
  return deadline_unix_ms_;
}

void InvocationBroker::wake_next_waiters() {
  uint64_t one = 1;
  for (int fd : next_waiters_) {
    [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
  }
}

std::optional<Invoke> InvocationBroker::next(int connection_fd) {
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return std::nullopt;
  std::unique_lock lock(mu_);
  if (!init_done_ && !init_error_) {
    init_done_ = true;
    init_done_ns_ = monotonic_ns();
    changed_.notify_all();
  }
  next_waiters_.push_back(wake.get());
  std::optional<Invoke> handed;
  bool watch_connection = true;
  while (!closed_) {
    if (pending_) {
      handed = std::move(pending_);
      pending_.reset();
      current_id_ = handed->request_id;
      break;
    }
    lock.unlock();
    pollfd fds[2] = {{wake.get(), POLLIN, 0}, {connection_fd, POLLIN, 0}};
    int n = ::poll(fds, watch_connection ? 2 : 1, -1);
    bool gone = false;
    if (n > 0 && fds[0].revents) {
      uint64_t count;
      [[maybe_unused]] ssize_t r = ::read(wake.get(), &count, sizeof count);
    }
    if (n > 0 && watch_connection && fds[1].revents) {
      // Bytes of a pipelined request wait until this one is answered; only a hang-up counts.
      gone = hung_up(connection_fd);
      watch_connection = false;
    }
    lock.lock();
    if (gone) break;
  }
  next_waiters_.erase(std::find(next_waiters_.begin(), next_waiters_.end(), wake.get()));
  return handed;
}

void InvocationBroker::undeliver(Invoke invoke) {
  std::lock_guard lock(mu_);
  if (current_id_ != invoke.request_id || outcome_) return;
  current_id_.clear();
  pending_ = std::move(invoke);
  wake_next_waiters();
}

InvocationBroker::Post InvocationBroker::post_response(std::string_view request_id,
                                                       std::string body) {
  std::lock_guard lock(mu_);
  if (current_id_.empty() || request_id != current_id_) return Post::kUnknownRequestId;
  current_id_.clear();
  outcome_ = InvocationOutcome{InvokeResult::kSuccess, std::move(body), "", {}, monotonic_ns()};
  changed_.notify_all();
  return Post::kAccepted;
}

InvocationBroker::Post InvocationBroker::post_error(std::string_view request_id,
                                                    std::string error_type, std::string body) {
  std::lock_guard lock(mu_);
  if (current_id_.empty() || request_id != current_id_) return Post::kUnknownRequestId;
  current_id_.clear();
  outcome_ = InvocationOutcome{
      InvokeResult::kFunctionError, std::move(body), std::move(error_type), {}, monotonic_ns()};
  changed_.notify_all();
  return Post::kAccepted;
}

InvocationBroker::Post InvocationBroker::post_init_error(std::string error_type, std::string body) {
  std::lock_guard lock(mu_);
  if (init_done_ || init_error_) return Post::kInvalidState;
  init_error_ = InitOutcome{
      InitOutcome::kInitError, std::move(error_type), std::move(body), {}, monotonic_ns()};
  changed_.notify_all();
  return Post::kAccepted;
}

InitOutcome InvocationBroker::wait_init(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  changed_.wait_until(lock, deadline,
                      [&] { return init_done_ || init_error_ || exited_ || closed_; });
  if (init_error_) return *init_error_;
  if (init_done_) return InitOutcome{InitOutcome::kReady, "", "", {}, init_done_ns_};
  if (exited_) return InitOutcome{InitOutcome::kExited, "", "", *exited_, exited_ns_};
  if (closed_) return InitOutcome{InitOutcome::kClosed, "", "", {}, monotonic_ns()};
  return InitOutcome{InitOutcome::kTimedOut, "", "", {}, monotonic_ns()};
}

Status InvocationBroker::begin(Invoke invoke) {
  std::lock_guard lock(mu_);
  if (closed_) return make_error("invoke", "the agent is shutting down");
  if (init_error_ || (!init_done_ && exited_)) {
    return make_error("invoke", "the runtime failed to initialize");
  }
  if (!init_done_) return make_error("invoke", "the runtime has not finished its init");
  if (running_) return make_error("invoke", "an invocation is already running");
  running_ = true;
  deadline_unix_ms_ = realtime_ms() + invoke.budget_ms;
  outcome_.reset();
  if (exited_) {
    RuntimeExit exit = *exited_;
    outcome_ = InvocationOutcome{
        InvokeResult::kRuntimeExit,
        lambda_error_json(exit_error_type(exit),
                          "RequestId: " + invoke.request_id + " Error: " + describe_exit(exit)),
        exit_error_type(exit), exit, monotonic_ns()};
    return {};
  }
  pending_ = std::move(invoke);
  wake_next_waiters();
  return {};
}

Result<InvocationOutcome> InvocationBroker::wait_outcome() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return outcome_.has_value() || closed_; });
  running_ = false;
  pending_.reset();
  current_id_.clear();
  if (!outcome_) return make_error("invoke", "the agent is shutting down");
  InvocationOutcome done = std::move(*outcome_);
  outcome_.reset();
  return done;
}

void InvocationBroker::runtime_exited(const RuntimeExit& exit) {
  std::lock_guard lock(mu_);
  exited_ = exit;
  exited_ns_ = monotonic_ns();
  if (running_ && !outcome_) {
    std::string id = pending_ ? pending_->request_id : current_id_;
    outcome_ =
        InvocationOutcome{InvokeResult::kRuntimeExit,
                          lambda_error_json(exit_error_type(exit),
                                            "RequestId: " + id + " Error: " + describe_exit(exit)),
                          exit_error_type(exit), exit, exited_ns_};
    pending_.reset();
    current_id_.clear();
  }
  changed_.notify_all();
}

void InvocationBroker::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  wake_next_waiters();
  changed_.notify_all();
}

}  // namespace ember::agent
