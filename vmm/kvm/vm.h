// Vm: a KVM virtual machine fd (memory slots, irqchip, PIT, ioeventfd, irqfd, vCPU creation).
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/memory/guest_memory.h"

namespace ember::vmm {

class Vm {
 public:
  Vm(UniqueFd fd, size_t vcpu_mmap_size) : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}
  Vm(Vm&&) = default;
  Vm& operator=(Vm&&) = default;

  int fd() const { return fd_.get(); }

  // KVM_SET_USER_MEMORY_REGION for one slot. `host` must stay mapped for the VM's life.
  Status set_user_memory_region(uint32_t slot, uint64_t guest_addr, uint64_t size, void* host);
  // Registers every region of `memory` in slots 0, 1, ...; `memory` must outlive the Vm.
  Status set_memory(const GuestMemory& memory);

  // KVM_SET_TSS_ADDR / KVM_SET_IDENTITY_MAP_ADDR: 3 pages and 1 page of guest physical
  // space that KVM keeps for itself (Intel real-mode emulation). Call before create_vcpu.
  Status set_tss_addr(uint64_t guest_addr);
  Status set_identity_map_addr(uint64_t guest_addr);
  // KVM_CREATE_IRQCHIP (PIC, IOAPIC, LAPICs in the kernel). Call before create_vcpu.
  Status create_irqchip();
  // KVM_CREATE_PIT2 with a dummy speaker port.
  Status create_pit2();

  // KVM_IOEVENTFD on MMIO: a guest write of `len` bytes (1, 2, 4 or 8) at guest_addr,
  // equal to *datamatch when given, signals `eventfd` without a VM exit.
  Status register_ioeventfd(uint64_t guest_addr, uint32_t len, std::optional<uint64_t> datamatch,
                            int eventfd);
  // KVM_IRQFD: writing to `eventfd` pulses interrupt line `gsi`.
  Status register_irqfd(int eventfd, uint32_t gsi);
  // KVM_IRQ_LINE: drives `gsi` high or low.
  Status set_irq_line(uint32_t gsi, bool level);

  // KVM_GET_IRQCHIP / KVM_SET_IRQCHIP for chip_id KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE or
  // _IOAPIC (after create_irqchip).
  Result<kvm_irqchip> get_irqchip(uint32_t chip_id) const;
  Status set_irqchip(const kvm_irqchip& chip);
  Result<kvm_pit_state2> get_pit2() const;
  Status set_pit2(const kvm_pit_state2& pit);
  // KVM_GET_CLOCK / KVM_SET_CLOCK: the kvmclock base the guest's clock is built on.
  Result<kvm_clock_data> get_clock() const;
  Status set_clock(const kvm_clock_data& clock);
  // KVM_CHECK_EXTENSION on the VM fd (some capabilities, e.g. KVM_CAP_XSAVE2, are per VM).
  int check_extension(int capability) const;

  // KVM_CREATE_VCPU and the mmap of its kvm_run area.
  Result<Vcpu> create_vcpu(uint32_t id);

 private:
  UniqueFd fd_;
  size_t vcpu_mmap_size_ = 0;
};

}  // namespace ember::vmm
