// Interrupt: an eventfd a device writes to raise its interrupt line (a KVM irqfd).
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::vmm::virtio {

// The VMM core registers fd() with Vm::register_irqfd(fd, gsi); KVM then injects an
// edge on the GSI for every trigger(). Tests read the eventfd instead.
class Interrupt {
 public:
  static Result<Interrupt> create() {
    Interrupt irq;
    irq.fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!irq.fd_) return errno_error("eventfd", "virtio interrupt");
    return irq;
  }

  int fd() const { return fd_.get(); }

  void trigger() const {
    const uint64_t one = 1;
    // Fails only when the counter would overflow, i.e. an interrupt is already pending.
    (void)!::write(fd_.get(), &one, sizeof(one));
  }

 private:
  UniqueFd fd_;
};

}  // namespace ember::vmm::virtio
