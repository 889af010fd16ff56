// MmioTransport: virtio-mmio register semantics, feature negotiation, reset and notify.
#include "vmm/virtio/mmio_transport.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cstring>

#include "vmm/logger.h"
#include "vmm/virtio/virtio_spec.h"

namespace ember::vmm::virtio {

Result<std::unique_ptr<MmioTransport>> MmioTransport::create(const GuestMemory& mem,
                                                             EventLoop& loop,
                                                             std::unique_ptr<VirtioDevice> device) {
  if (device == nullptr || device->num_queues() == 0) {
    return make_error("create virtio-mmio transport", "device without queues");
  }
  if ((device->features() & feature_bit(kFeatureVersion1)) == 0) {
    return make_error("create virtio-mmio transport", "device must offer VIRTIO_F_VERSION_1");
  }
  EMBER_TRY(Interrupt irq, Interrupt::create());
  std::unique_ptr<MmioTransport> t(new MmioTransport(mem, loop, std::move(device), std::move(irq)));
  for (uint16_t q = 0; q < t->num_queues(); ++q) {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) return errno_error("eventfd", "virtio queue notify");
    MmioTransport* self = t.get();
    EMBER_CHECK(loop.add(fd.get(), EPOLLIN, [self, q](uint32_t) { self->on_notify(q); }));
    t->notify_fds_.push_back(std::move(fd));
  }
  t->device_->attach(*t);
  return t;
}

MmioTransport::MmioTransport(const GuestMemory& mem, EventLoop& loop,
                             std::unique_ptr<VirtioDevice> device, Interrupt interrupt)
    : mem_(mem), loop_(loop), device_(std::move(device)), interrupt_(std::move(interrupt)) {
  device_features_ = device_->features();
  for (uint16_t q = 0; q < device_->num_queues(); ++q) {
    queues_.emplace_back(device_->queue_max_size(q));
  }
}

MmioTransport::~MmioTransport() {
  for (const UniqueFd& fd : notify_fds_) loop_.remove(fd.get());
  // The device goes first: its own event handlers may reach back into this transport.
  device_.reset();
}

uint32_t MmioTransport::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void MmioTransport::on_notify(uint16_t queue) {
  uint64_t count = 0;
  // An empty counter (EAGAIN) only means an earlier wakeup already covered this kick.
  (void)!::read(notify_fds_[queue].get(), &count, sizeof(count));
  std::lock_guard lock(mu_);
  if (active() && queues_[queue].config().ready) device_->process_queue(queue);
}

void MmioTransport::mmio_read(uint64_t offset, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());
  if (offset >= mmio::kConfig) {
    if (offset >= mmio::kWindowSize) return;
    std::lock_guard lock(mu_);
    device_->read_config(offset - mmio::kConfig, data);
    return;
  }
  // Registers are 32 bits wide and must be accessed as such (4.2.2.2).
  if (data.size() != 4 || offset % 4 != 0) return;
  uint32_t value = 0;
  if (offset == mmio::kInterruptStatus) {
    value = interrupt_status_.load();
  } else {
    std::lock_guard lock(mu_);
    value = read_register(offset);
  }
  std::memcpy(data.data(), &value, 4);
}

void MmioTransport::mmio_write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset >= mmio::kConfig) {
    if (offset >= mmio::kWindowSize) return;
    std::lock_guard lock(mu_);
    device_->write_config(offset - mmio::kConfig, data);
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) return;
  uint32_t value = 0;
  std::memcpy(&value, data.data(), 4);
  if (offset == mmio::kInterruptAck) {
    interrupt_status_.fetch_and(~value);
    return;
  }
  if (offset == mmio::kQueueNotify) {
    // Same path as the ioeventfd: the loop serves the queue.
    if (value < notify_fds_.size()) {
      const uint64_t one = 1;
      (void)!::write(notify_fds_[value].get(), &one, sizeof(one));
    }
    return;
  }
  std::lock_guard lock(mu_);
  write_register(offset, value);
}

Queue* MmioTransport::selected_queue() {
  return queue_sel_ < queues_.size() ? &queues_[queue_sel_] : nullptr;
}

uint32_t MmioTransport::read_register(uint64_t offset) const {
  const Queue* q = queue_sel_ < queues_.size() ? &queues_[queue_sel_] : nullptr;
  switch (offset) {
    case mmio::kMagicValue:
      return mmio::kMagic;
    case mmio::kVersion:
      return 2;
    case mmio::kDeviceId:
      return device_->device_id();
    case mmio::kVendorId:
      return mmio::kVendor;
    case mmio::kDeviceFeatures:
      return device_features_sel_ < 2
                 ? static_cast<uint32_t>(device_features_ >> (32 * device_features_sel_))
                 : 0;
    case mmio::kQueueNumMax:
      return q != nullptr ? q->config().max_size : 0;
    case mmio::kQueueReady:
      return q != nullptr && q->config().ready ? 1 : 0;
    case mmio::kStatus:
      return status_;
    case mmio::kConfigGeneration:
      return config_generation_;
    default:
      return 0;  // write-only or unknown registers
  }
}

void MmioTransport::write_register(uint64_t offset, uint32_t value) {
  const auto set_low = [value](uint64_t& addr) { addr = (addr & ~0xffffffffULL) | value; };
  const auto set_high = [value](uint64_t& addr) {
    addr = (addr & 0xffffffffULL) | (uint64_t{value} << 32);
  };
  switch (offset) {
    case mmio::kDeviceFeaturesSel:
      device_features_sel_ = value;
      return;
    case mmio::kDriverFeaturesSel:
      driver_features_sel_ = value;
      return;
    case mmio::kDriverFeatures: {
      // Only between DRIVER and FEATURES_OK (3.1.1); unoffered bits are dropped.
      const bool negotiating = (status_ & kStatusDriver) && !(status_ & kStatusFeaturesOk);
      if (!negotiating || driver_features_sel_ >= 2) return;
      const uint32_t shift = 32 * driver_features_sel_;
      const uint64_t mask = 0xffffffffULL << shift;
      acked_features_ = (acked_features_ & ~mask) | ((uint64_t{value} << shift) & mask);
      acked_features_ &= device_features_;
      return;
    }
    case mmio::kQueueSel:
      queue_sel_ = value;
      return;
    case mmio::kStatus:
      write_status(value);
      return;
    default:
      break;
  }
  // Queue registers: ignored for a missing queue, or once the queue is live.
  Queue* q = selected_queue();
  if (q == nullptr || (status_ & kStatusDriverOk)) return;
  Queue::State& s = q->config();
  if (offset == mmio::kQueueReady) {
    s.ready = value == 1;
    return;
  }
  if (s.ready) return;
  switch (offset) {
    case mmio::kQueueNum:
      s.size = value <= s.max_size ? static_cast<uint16_t>(value) : 0;
      return;
    case mmio::kQueueDescLow:
      return set_low(s.desc_addr);
    case mmio::kQueueDescHigh:
      return set_high(s.desc_addr);
    case mmio::kQueueDriverLow:
      return set_low(s.driver_addr);
    case mmio::kQueueDriverHigh:
      return set_high(s.driver_addr);
    case mmio::kQueueDeviceLow:
      return set_low(s.device_addr);
    case mmio::kQueueDeviceHigh:
      return set_high(s.device_addr);
    default:
      return;
  }
}

void MmioTransport::write_status(uint32_t value) {
  if (value == 0) {
    reset_locked();
    return;
  }
  // The driver only ever adds bits (3.1.1); NEEDS_RESET is the device's to set.
  value = (value & ~kStatusNeedsReset) | (status_ & kStatusNeedsReset);
  if ((status_ & ~value) != 0) return;
  const uint32_t added = value & ~status_;
  if ((added & kStatusFeaturesOk) &&
      (!(value & kStatusDriver) || !(acked_features_ & feature_bit(kFeatureVersion1)))) {
    value &= ~kStatusFeaturesOk;  // refused: the driver reads it back and gives up
  }
  if ((added & kStatusDriverOk) && !(value & kStatusFeaturesOk)) return;
  status_ = value;
  if (!(added & kStatusDriverOk) || (status_ & kStatusNeedsReset)) return;
  for (uint16_t i = 0; i < queues_.size(); ++i) {
    if (!queues_[i].config().ready) continue;
    if (Status s = queues_[i].validate(mem_); !s.ok()) {
      fail(make_error("activate queue " + std::to_string(i), s.error().message()));
      return;
    }
  }
  device_->activate(acked_features_);
}

void MmioTransport::reset_locked() {
  device_->reset();
  for (Queue& q : queues_) q.reset();
  acked_features_ = 0;
  device_features_sel_ = 0;
  driver_features_sel_ = 0;
  queue_sel_ = 0;
  status_ = 0;
  interrupt_status_.store(0);
}

bool MmioTransport::active() const {
  return (status_ & kStatusDriverOk) && !(status_ & kStatusNeedsReset);
}

void MmioTransport::signal_used(uint16_t queue) {
  Result<bool> wanted = queues_.at(queue).needs_interrupt(mem_);
  if (!wanted.ok()) return fail(wanted.error());
  if (!*wanted) return;
  interrupt_status_.fetch_or(kInterruptUsedBuffer);
  interrupt_.trigger();
}

void MmioTransport::signal_config_change() {
  interrupt_status_.fetch_or(kInterruptConfigChange);
  interrupt_.trigger();
}

void MmioTransport::fail(const Error& why) {
  if (status_ & kStatusNeedsReset) return;
  log_warn("virtio device " + std::to_string(device_->device_id()) +
           " needs reset: " + why.message());
  status_ |= kStatusNeedsReset;
  signal_config_change();
}

MmioTransport::State MmioTransport::save() const {
  std::lock_guard lock(mu_);
  State s{device_features_,         acked_features_,    device_features_sel_,
          driver_features_sel_,     queue_sel_,         status_,
          interrupt_status_.load(), config_generation_, {}};
  for (const Queue& q : queues_) s.queues.push_back(q.save());
  return s;
}

Status MmioTransport::restore(const State& s) {
  std::lock_guard lock(mu_);
  if (s.device_features != device_features_ || s.queues.size() != queues_.size()) {
    return make_error("restore virtio-mmio transport", "device features or queues differ");
  }
  for (size_t i = 0; i < queues_.size(); ++i) {
    if (s.queues[i].max_size != queues_[i].config().max_size) {
      return make_error("restore virtio-mmio transport", "queue max size differs");
    }
    queues_[i].restore(s.queues[i]);
  }
  acked_features_ = s.acked_features & device_features_;
  device_features_sel_ = s.device_features_sel;
  driver_features_sel_ = s.driver_features_sel;
  queue_sel_ = s.queue_sel;
  status_ = s.status;
  interrupt_status_.store(s.interrupt_status);
  config_generation_ = s.config_generation;
  if (active()) {
    for (const Queue& q : queues_) {
      if (q.config().ready) EMBER_CHECK(q.validate(mem_));
    }
    device_->activate(acked_features_);
  }
  // An edge lost with the old process would leave the driver waiting forever.
  if (interrupt_status_.load() != 0) interrupt_.trigger();
  return {};
}

}  // namespace ember::vmm::virtio
