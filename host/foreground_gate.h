// ForegroundGate: background refills wait while a cold start is in progress.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace ember::host {

// The pool's background restores and the standby stock's refills compete for the same CPUs
// as the cold start whose VMs they replace; on a small host (the emulated test host has two
// vCPUs) a refill that starts alongside a restore slows it and the invocation after it. A
// cold start holds a Scope while it runs; background work asks for its turn first. Thread-safe.
class ForegroundGate {
 public:
  // Held by one cold start, from before its restore or boot until its invocation ends.
  class Scope {
   public:
    explicit Scope(ForegroundGate* gate);
    Scope(Scope&& other) noexcept;
    Scope& operator=(Scope&&) = delete;
    Scope(const Scope&) = delete;
    ~Scope();

   private:
    ForegroundGate* gate_;
  };

  Scope enter() { return Scope(this); }

  // Returns once no Scope is held, or after max_wait at the latest, so that a stream of
  // overlapping cold starts delays background work but cannot starve it.
  void wait_for_turn(std::chrono::milliseconds max_wait);

  // How long background work waits at most (the ready pool and the standby stock).
  static constexpr std::chrono::milliseconds kMaxDefer{2000};

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  size_t held_ = 0;
};

}  // namespace ember::host
