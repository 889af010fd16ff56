// FuzzTransport: the transport side a virtio device sees, over the fuzz input's queues.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "vmm/virtio/virtio_device.h"

namespace ember::fuzz {

// Hands a device its queues and guest memory the way MmioTransport does once the driver
// set DRIVER_OK, and records what the device reported instead of raising interrupts.
class FuzzTransport final : public vmm::virtio::VirtioTransport {
 public:
  explicit FuzzTransport(const vmm::GuestMemory& mem) : mem_(mem) {}

  vmm::virtio::Queue* queues() { return queues_; }
  // After fail(): the device must not touch its queues again until a reset.
  bool failed() const { return failed_.has_value(); }
  void clear() {
    failed_.reset();
    used_signals_ = 0;
  }
  unsigned used_signals() const { return used_signals_; }

  std::mutex& mutex() override { return mu_; }
  const vmm::GuestMemory& memory() const override { return mem_; }
  vmm::virtio::Queue& queue(uint16_t index) override { return queues_[index]; }
  bool active() const override { return !failed_; }
  void signal_used(uint16_t /*queue*/) override { ++used_signals_; }
  void signal_config_change() override {}
  void fail(const Error& why) override {
    if (!failed_) failed_ = why.message();
  }

 private:
  static constexpr size_t kQueues = 3;
  const vmm::GuestMemory& mem_;
  std::mutex mu_;
  vmm::virtio::Queue queues_[kQueues];
  std::optional<std::string> failed_;
  unsigned used_signals_ = 0;
};

}  // namespace ember::fuzz
