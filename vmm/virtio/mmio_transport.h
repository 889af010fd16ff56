// MmioTransport: the virtio-mmio (version 2) register file in front of a VirtioDevice.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/devices/mmio_device.h"
#include "vmm/event_loop.h"
#include "vmm/virtio/interrupt.h"
#include "vmm/virtio/virtio_device.h"

namespace ember::vmm::virtio {

// Threads: mmio_read/mmio_write run on vCPU threads; queue work runs on the event loop.
// One mutex serializes them. A QueueNotify write (or the ioeventfd KVM signals instead)
// only wakes the loop, so guest requests are always served on the loop thread.
class MmioTransport final : public MmioDevice, public VirtioTransport {
 public:
  struct State {
    uint64_t device_features = 0;  // checked against the device on restore
    uint64_t acked_features = 0;
    uint32_t device_features_sel = 0;
    uint32_t driver_features_sel = 0;
    uint32_t queue_sel = 0;
    uint32_t status = 0;
    uint32_t interrupt_status = 0;
    uint32_t config_generation = 0;
    std::vector<Queue::State> queues;
  };

  // Creates the interrupt eventfd and one notify eventfd per queue, and watches the
  // latter on `loop`. `mem` and `loop` must outlive the transport; it is destroyed on the
  // loop thread (or while the loop is not running).
  static Result<std::unique_ptr<MmioTransport>> create(const GuestMemory& mem, EventLoop& loop,
                                                       std::unique_ptr<VirtioDevice> device);
  ~MmioTransport() override;
  MmioTransport(const MmioTransport&) = delete;
  MmioTransport& operator=(const MmioTransport&) = delete;

  // For Vm::register_irqfd(irq_fd(), gsi).
  int irq_fd() const { return interrupt_.fd(); }
  // For Vm::register_ioeventfd(base + mmio::kQueueNotify, 4, queue, queue_notify_fd(queue)).
  int queue_notify_fd(uint16_t queue) const { return notify_fds_.at(queue).get(); }
  uint16_t num_queues() const { return static_cast<uint16_t>(queues_.size()); }
  VirtioDevice& device() { return *device_; }
  uint32_t status() const;

  void mmio_read(uint64_t offset, std::span<uint8_t> data) override;
  void mmio_write(uint64_t offset, std::span<const uint8_t> data) override;

  // Save/restore of the transport only; restore the device's own State first. A restored
  // DRIVER_OK device is re-activated.
  State save() const;
  Status restore(const State& state);

  // VirtioTransport
  std::mutex& mutex() override { return mu_; }
  const GuestMemory& memory() const override { return mem_; }
  Queue& queue(uint16_t index) override { return queues_.at(index); }
  bool active() const override;
  void signal_used(uint16_t queue) override;
  void signal_config_change() override;
  void fail(const Error& why) override;

 private:
  MmioTransport(const GuestMemory& mem, EventLoop& loop, std::unique_ptr<VirtioDevice> device,
                Interrupt interrupt);

  uint32_t read_register(uint64_t offset) const;
  void write_register(uint64_t offset, uint32_t value);
  void write_status(uint32_t value);
  void reset_locked();
  void on_notify(uint16_t queue);
  Queue* selected_queue();

  const GuestMemory& mem_;
  EventLoop& loop_;
  std::unique_ptr<VirtioDevice> device_;
  Interrupt interrupt_;
  std::vector<UniqueFd> notify_fds_;
  std::vector<Queue> queues_;

  mutable std::mutex mu_;
  uint64_t device_features_ = 0;
  uint64_t acked_features_ = 0;
  uint32_t device_features_sel_ = 0;
  uint32_t driver_features_sel_ = 0;
  uint32_t queue_sel_ = 0;
  uint32_t status_ = 0;
  uint32_t config_generation_ = 0;
  // Read and acknowledged by vCPUs without the mutex, so an interrupt handler never
  // waits behind a long queue run.
  std::atomic<uint32_t> interrupt_status_ = 0;
};

}  // namespace ember::vmm::virtio
