// Vm: KVM VM ioctls.
#include "vmm/kvm/vm.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>

namespace ember::vmm {
namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

Status Vm::set_user_memory_region(uint32_t slot, uint64_t guest_addr, uint64_t size, void* host) {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.guest_phys_addr = guest_addr;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<uint64_t>(host);
  if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    return errno_error("KVM_SET_USER_MEMORY_REGION", "slot " + std::to_string(slot) + " at " +
                                                         hex(guest_addr) + " size " + hex(size));
  }
  return {};
}

Status Vm::set_memory(const GuestMemory& memory) {
  uint32_t slot = 0;
  for (const MemoryRegion& r : memory.regions()) {
    EMBER_CHECK(set_user_memory_region(slot++, r.guest_addr, r.size, r.host));
  }
  return {};
}

Status Vm::set_tss_addr(uint64_t guest_addr) {
  if (::ioctl(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(guest_addr)) < 0) {
    return errno_error("KVM_SET_TSS_ADDR", hex(guest_addr));
  }
  return {};
}

Status Vm::set_identity_map_addr(uint64_t guest_addr) {
  uint64_t addr = guest_addr;
  if (::ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0) {
    return errno_error("KVM_SET_IDENTITY_MAP_ADDR", hex(guest_addr));
  }
  return {};
}

Status Vm::create_irqchip() {
  if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0) return errno_error("KVM_CREATE_IRQCHIP");
  return {};
}

Status Vm::create_pit2() {
  kvm_pit_config config{};
  config.flags = KVM_PIT_SPEAKER_DUMMY;
  if (::ioctl(fd_.get(), KVM_CREATE_PIT2, &config) < 0) return errno_error("KVM_CREATE_PIT2");
  return {};
}

Status Vm::register_ioeventfd(uint64_t guest_addr, uint32_t len, std::optional<uint64_t> datamatch,
                              int eventfd) {
  if (len != 1 && len != 2 && len != 4 && len != 8) {
    return make_error("KVM_IOEVENTFD", "length must be 1, 2, 4 or 8, got " + std::to_string(len));
  }
  kvm_ioeventfd io{};
  io.addr = guest_addr;
  io.len = len;
  io.fd = eventfd;
  if (datamatch) {
    io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    io.datamatch = *datamatch;
  }
  if (::ioctl(fd_.get(), KVM_IOEVENTFD, &io) < 0) {
    return errno_error("KVM_IOEVENTFD", "at " + hex(guest_addr) + " fd " + std::to_string(eventfd));
  }
  return {};
}

Status Vm::register_irqfd(int eventfd, uint32_t gsi) {
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(eventfd);
  irqfd.gsi = gsi;
  if (::ioctl(fd_.get(), KVM_IRQFD, &irqfd) < 0) {
    return errno_error("KVM_IRQFD",
                       "gsi " + std::to_string(gsi) + " fd " + std::to_string(eventfd));
  }
  return {};
}

Status Vm::set_irq_line(uint32_t gsi, bool level) {
  kvm_irq_level irq{};
  irq.irq = gsi;
  irq.level = level ? 1 : 0;
  if (::ioctl(fd_.get(), KVM_IRQ_LINE, &irq) < 0) {
    return errno_error("KVM_IRQ_LINE", "gsi " + std::to_string(gsi));
  }
  return {};
}

Result<kvm_irqchip> Vm::get_irqchip(uint32_t chip_id) const {
  kvm_irqchip chip{};
  chip.chip_id = chip_id;
  if (::ioctl(fd_.get(), KVM_GET_IRQCHIP, &chip) < 0) {
    return errno_error("KVM_GET_IRQCHIP", "chip " + std::to_string(chip_id));
  }
  return chip;
}

Status Vm::set_irqchip(const kvm_irqchip& chip) {
  if (::ioctl(fd_.get(), KVM_SET_IRQCHIP, &chip) < 0) {
    return errno_error("KVM_SET_IRQCHIP", "chip " + std::to_string(chip.chip_id));
  }
  return {};
}

Result<kvm_pit_state2> Vm::get_pit2() const {
  kvm_pit_state2 pit{};
  if (::ioctl(fd_.get(), KVM_GET_PIT2, &pit) < 0) return errno_error("KVM_GET_PIT2");
  return pit;
}

Status Vm::set_pit2(const kvm_pit_state2& pit) {
  if (::ioctl(fd_.get(), KVM_SET_PIT2, &pit) < 0) return errno_error("KVM_SET_PIT2");
  return {};
}

Result<kvm_clock_data> Vm::get_clock() const {
  kvm_clock_data clock{};
  if (::ioctl(fd_.get(), KVM_GET_CLOCK, &clock) < 0) return errno_error("KVM_GET_CLOCK");
  return clock;
}

Status Vm::set_clock(const kvm_clock_data& clock) {
  if (::ioctl(fd_.get(), KVM_SET_CLOCK, &clock) < 0) return errno_error("KVM_SET_CLOCK");
  return {};
}

int Vm::check_extension(int capability) const {
  const int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

Result<Vcpu> Vm::create_vcpu(uint32_t id) {
  const int fd = ::ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id));
  if (fd < 0) return errno_error("KVM_CREATE_VCPU", "vcpu " + std::to_string(id));
  UniqueFd vcpu_fd(fd);
  EMBER_TRY(MappedRegion run,
            MappedRegion::map(vcpu_mmap_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd.get()));
  return Vcpu(std::move(vcpu_fd), std::move(run), id);
}

}  // namespace ember::vmm
