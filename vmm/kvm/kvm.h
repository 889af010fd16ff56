// Kvm: the /dev/kvm system handle (API version, capabilities, supported CPUID, MSR list).
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/kvm/vm.h"

namespace ember::vmm {

class Kvm {
 public:
  Kvm(Kvm&&) = default;
  Kvm& operator=(Kvm&&) = default;

  // Opens `path`, checks KVM_GET_API_VERSION == 12 and the capabilities Ember relies on
  // (in-kernel irqchip, PIT2, ioeventfd, irqfd, immediate_exit, user memory). A missing or
  // inaccessible device comes back as an error that says what to do about it.
  static Result<Kvm> open(const std::string& path = "/dev/kvm");

  int fd() const { return fd_.get(); }
  // KVM_CHECK_EXTENSION: 0 when unsupported, otherwise the capability's value.
  int check_extension(int capability) const;
  // KVM_GET_SUPPORTED_CPUID, every entry the host can give a guest.
  Result<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;
  // KVM_GET_MSR_INDEX_LIST: MSRs that KVM saves and restores.
  Result<std::vector<uint32_t>> msr_index_list() const;
  // KVM_GET_VCPU_MMAP_SIZE, cached at open().
  size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }

  // KVM_CREATE_VM.
  Result<Vm> create_vm() const;

 private:
  Kvm(UniqueFd fd, size_t vcpu_mmap_size) : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

  UniqueFd fd_;
  size_t vcpu_mmap_size_ = 0;
};

}  // namespace ember::vmm
