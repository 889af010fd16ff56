// FakeInvoker (tests only): echoes the payload; can fail, throttle, time out, sleep or run a hook.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "host/api/invoker.h"

namespace ember::host {

class FakeInvoker : public Invoker {
 public:
  Result<InvokeOutcome> invoke(const InvokeRequest& request) override {
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
    }
    std::this_thread::sleep_for(sleep);
    if (during_invoke) during_invoke(request);
    if (stale > 0) {
      --stale;
      return Error{ESTALE, "fake invoke", "the function changed before this invocation began"};
    }
    if (fail_with_service_error) {
      return invoke_error(InvokeErrorType::kServiceException, "fake invoke", "it broke");
    }
    if (throttle) {
      return invoke_error(InvokeErrorType::kTooManyRequests, "fake invoke", "no capacity");
    }
    InvokeOutcome outcome;
    outcome.payload = request.payload;
    outcome.runtime_output = "handling " + request.request_id + "\n";
    outcome.duration_ms = 12.34;
    outcome.max_memory_used_mb = 40;
    outcome.timing = timing;
    if (time_out) {
      outcome.function_error = "Unhandled";
      outcome.payload = "{\"errorType\":\"Sandbox.Timedout\",\"errorMessage\":\"RequestId: " +
                        request.request_id + " Error: Task timed out after " +
                        std::to_string(request.fn.timeout_s) + ".00 seconds\"}";
    }
    return outcome;
  }
  // With park_invocations, each request waits unanswered, holding no thread, until
  // answer_parked().
  void invoke_async(InvokeRequest request, InvokeDone done) override {
    if (!park_invocations) return Invoker::invoke_async(std::move(request), std::move(done));
    std::lock_guard lock(mu_);
    parked_.emplace_back(std::move(request), std::move(done));
  }
  size_t parked() {
    std::lock_guard lock(mu_);
    return parked_.size();
  }
  // Answers every parked invocation, on this thread, as invoke() would have.
  void answer_parked() {
    std::vector<std::pair<InvokeRequest, InvokeDone>> parked;
    {
      std::lock_guard lock(mu_);
      parked.swap(parked_);
    }
    for (auto& [request, done] : parked) done(invoke(request));
  }
  void retire(const std::string& function_name) override {
    std::lock_guard lock(mu_);
    retired_.push_back(function_name);
  }
  void shutdown() override { shut_down = true; }

  std::vector<InvokeRequest> seen() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<std::string> retired_names() {
    std::lock_guard lock(mu_);
    return retired_;
  }

  // Set before invocations start.
  std::chrono::milliseconds sleep{0};
  bool fail_with_service_error = false;
  bool throttle = false;
  bool time_out = false;
  std::function<void(const InvokeRequest&)> during_invoke;  // runs inside each invoke()
  bool park_invocations = false;  // invoke_async() parks requests (see answer_parked())
  std::atomic<int> stale{0};  // the next `stale` invocations answer ESTALE (retired revision)
  InvokeTiming timing{.queue_ms = 0.5, .handler_ms = 12.34, .total_ms = 13.5, .cold = false};
  std::atomic<bool> shut_down{false};

 private:
  std::mutex mu_;
  std::vector<InvokeRequest> requests_;
  std::vector<std::string> retired_;
  std::vector<std::pair<InvokeRequest, InvokeDone>> parked_;
};

}  // namespace ember::host
