// VirtioDevice / VirtioTransport: the seam between a device backend and its transport.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>

#include "common/result.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/virtio/queue.h"

namespace ember::vmm::virtio {

// What a transport offers its backend. Every call needs mutex() held; the transport
// holds it when it calls into the backend, and backend event handlers take it themselves.
class VirtioTransport {
 public:
  virtual ~VirtioTransport() = default;

  virtual std::mutex& mutex() = 0;
  virtual const GuestMemory& memory() const = 0;
  virtual Queue& queue(uint16_t index) = 0;
  // DRIVER_OK is set and the device has not failed: queues may be used.
  virtual bool active() const = 0;
  // Raises the used-buffer interrupt unless the driver suppressed it for `queue`.
  virtual void signal_used(uint16_t queue) = 0;
  virtual void signal_config_change() = 0;
  // The driver broke the protocol: set DEVICE_NEEDS_RESET, tell the driver, stop queues.
  virtual void fail(const Error& why) = 0;
};

// A device type (block, vsock). The transport owns it and calls every method with the
// transport mutex held, from vCPU threads (config, reset) or the event loop (queues).
class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  virtual uint32_t device_id() const = 0;
  // Offered features, including VIRTIO_F_VERSION_1.
  virtual uint64_t features() const = 0;
  virtual uint16_t num_queues() const = 0;
  virtual uint16_t queue_max_size(uint16_t /*index*/) const { return kMaxQueueSize; }

  // Called once, before any other call, with the transport that owns this device.
  virtual void attach(VirtioTransport& transport) = 0;
  // Device config space; out-of-range bytes read as zero and writes to them are ignored.
  virtual void read_config(uint64_t offset, std::span<uint8_t> data) const = 0;
  virtual void write_config(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) {}
  // The driver set DRIVER_OK with `acked` features, after the transport validated queues.
  virtual void activate(uint64_t acked) = 0;
  // The driver kicked queue `index` (or an eventfd fired); only called while active().
  virtual void process_queue(uint16_t index) = 0;
  // The driver wrote 0 to Status: drop in-flight work and go back to power-on state.
  virtual void reset() = 0;
};

// Copies config bytes [offset, offset + data.size()) into data; bytes past the end are 0.
inline void read_config_bytes(std::span<const uint8_t> config, uint64_t offset,
                              std::span<uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < config.size() ? config[offset + i] : 0;
  }
}

}  // namespace ember::vmm::virtio
