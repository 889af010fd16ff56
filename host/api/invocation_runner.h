// InvocationRunner: one invocation of a stored function through the Invoker, with its
// START/END/REPORT lines written to the function's log. Shared by every way in: the
// synchronous Invoke route, the async dispatcher and function URLs.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "host/api/api_error.h"
#include "host/api/invoker.h"
#include "host/logs/function_logs.h"
#include "host/store/code_store.h"
#include "host/store/function_record.h"
#include "host/store/function_store.h"

namespace ember::host {

struct InvocationInput {
  std::string request_id;      // a UUID
  std::string payload;         // the event, JSON
  std::string client_context;  // X-Amz-Client-Context, may be empty
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();
};

struct InvocationResult {
  InvokeOutcome outcome;  // the function's answer; a function error is an outcome too
  std::string log;        // the log lines written for it (X-Amz-Log-Result: Tail)
};

// Thread-safe.
class InvocationRunner {
 public:
  InvocationRunner(FunctionStore& functions, CodeStore& code, FunctionLogs& logs,
                   Invoker& invoker, std::string region)
      : functions_(functions),
        code_(code),
        logs_(logs),
        invoker_(invoker),
        region_(std::move(region)) {}

  using Done = std::function<void(Result<InvocationResult>)>;

  // Runs the invocation and logs it, then calls done once: on this thread before returning,
  // or later on the invoker's (Invoker::invoke_async). An invoker error (no capacity:
  // EAGAIN, or Ember failing) is passed on as it came, logged to stderr, and writes no log
  // lines. One the invoker calls stale (ESTALE: the function changed before the invocation
  // began) starts it again on the function as stored now, up to kStaleRestarts times. done
  // must not block.
  void run_async(const FunctionRecord& function, const InvocationInput& input, Done done);
  // run_async(), waiting for its result.
  Result<InvocationResult> run(const FunctionRecord& function, const InvocationInput& input);

  // The invoker's view of a stored function.
  FunctionSpec spec_for(const FunctionRecord& function) const;
  const std::string& region() const { return region_; }

 private:
  static constexpr int kStaleRestarts = 3;

  void start(const FunctionRecord& function, const InvocationInput& input, Done done,
             int restarts_left);

  FunctionStore& functions_;
  CodeStore& code_;
  FunctionLogs& logs_;
  Invoker& invoker_;
  const std::string region_;
};

// An invoker error as the Invoke API answers it: TooManyRequestsException (429) for EAGAIN,
// else ServiceException (500).
ApiError invoke_api_error(const Error& error);

}  // namespace ember::host
