// ForegroundGate: counting the cold starts in progress, and waiting for none.
#include "host/foreground_gate.h"

#include <utility>

namespace ember::host {

ForegroundGate::Scope::Scope(ForegroundGate* gate) : gate_(gate) {
  std::lock_guard lock(gate_->mu_);
  ++gate_->held_;
}

ForegroundGate::Scope::Scope(Scope&& other) noexcept
    : gate_(std::exchange(other.gate_, nullptr)) {}

ForegroundGate::Scope::~Scope() {
  if (gate_ == nullptr) return;
  std::lock_guard lock(gate_->mu_);
  if (--gate_->held_ == 0) gate_->idle_.notify_all();
}

void ForegroundGate::wait_for_turn(std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mu_);
  idle_.wait_for(lock, max_wait, [this] { return held_ == 0; });
}

}  // namespace ember::host
