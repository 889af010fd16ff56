// InvocationBroker: hands the host's invocations to the runtime's `next` and carries the
// runtime's answers, init errors and exit back. All of its state lives in the agent, so a
// runtime blocked in `next` survives a snapshot and serves whichever session sends Invoke.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/agent_protocol.h"
#include "common/result.h"
#include "guest-agent/lambda_error.h"

namespace ember::agent {

// How the init phase ended, as wait_init() reports it.
struct InitOutcome {
  enum Kind { kReady, kInitError, kExited, kTimedOut, kClosed };
  Kind kind = kTimedOut;
  std::string error_type;  // kInitError: as posted_error_type() finds it
  std::string error_body;  // kInitError: the posted body
  RuntimeExit exit;        // kExited
  uint64_t at_ns = 0;      // CLOCK_MONOTONIC when it happened (kReady: the first `next`)
};

// How one invocation ended, as wait_outcome() reports it.
struct InvocationOutcome {
  InvokeResult::Status status = InvokeResult::kSuccess;
  std::string payload;
  std::string error_type;
  RuntimeExit exit;    // kRuntimeExit
  uint64_t at_ns = 0;  // CLOCK_MONOTONIC when the answer was posted or the exit seen
};

class InvocationBroker {
 public:
  enum class Post { kAccepted, kUnknownRequestId, kInvalidState };

  // ---- runtime side: called by Runtime API connection threads ----

  // GET .../invocation/next: the first call marks init as done. Blocks until an invocation
  // is pending and returns it (it becomes the current one), or std::nullopt when
  // connection_fd hangs up or the broker is closed. While waiting, connection_fd is only
  // watched, never read.
  std::optional<Invoke> next(int connection_fd);
  // The reply carrying `invoke` could not be sent: it is pending again for the next `next`.
  void undeliver(Invoke invoke);
  // POST .../invocation/{id}/response and .../error. kUnknownRequestId unless id is the
  // current invocation.
  Post post_response(std::string_view request_id, std::string body);
  Post post_error(std::string_view request_id, std::string error_type, std::string body);
  // POST .../init/error: kInvalidState once init is done or has failed.
  Post post_init_error(std::string error_type, std::string body);

  // ---- agent side ----

  // Blocks until the first `next`, an init error, the runtime's exit, close() or deadline.
  InitOutcome wait_init(std::chrono::steady_clock::time_point deadline);
  // Queues an invocation for `next`. Errors: init not done or failed, one already running.
  // If the runtime has already exited, the invocation ends at once with kRuntimeExit.
  Status begin(Invoke invoke);
  // Blocks until the invocation begun last is answered or the runtime exits; an error when
  // the broker was closed first. Afterwards the next begin() is allowed.
  Result<InvocationOutcome> wait_outcome();
  // The runtime process ended (called once, after its output was read).
  void runtime_exited(const RuntimeExit& exit);
  // Wakes every waiter for good: agent shutdown.
  void close();

  // The VM was restored from a snapshot (its Refresh was acknowledged): every `next` from
  // now on tells the runtime so (the Ember-Restore-Count header), for it to reseed what it
  // keeps of randomness before the next handler runs.
  void note_restore() { restores_.fetch_add(1); }
  uint64_t restores() const { return restores_.load(); }
  // The current invocation's Lambda-Runtime-Deadline-Ms: the guest's wall clock when
  // begin() took it, plus its budget.
  uint64_t deadline_unix_ms() const;

 private:
  void wake_next_waiters();  // mu_ held

  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool init_done_ = false;  // the runtime asked for its first invocation
  uint64_t init_done_ns_ = 0;
  std::optional<InitOutcome> init_error_;
  std::optional<RuntimeExit> exited_;
  uint64_t exited_ns_ = 0;
  bool closed_ = false;
  bool running_ = false;           // begin() .. wait_outcome()
  uint64_t deadline_unix_ms_ = 0;  // of the invocation begun last
  std::optional<Invoke> pending_;  // begun, not yet handed to the runtime
  std::string current_id_;         // handed to the runtime, not yet answered
  std::optional<InvocationOutcome> outcome_;
  std::vector<int> next_waiters_;  // eventfds of connections blocked in next()
  std::atomic<uint64_t> restores_{0};
};

}  // namespace ember::agent
