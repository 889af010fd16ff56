// BootedVm without KVM: a VMM that exits at once fails the boot at once, with its reason.
#include "host/runtime/booted_vm.h"

#include <gtest/gtest.h>

#include <chrono>

namespace ember::host {
namespace {

TEST(BootedVm, AVmmThatExitsFailsTheBootAtOnce) {
  BootSpec spec;
  spec.vmm_path = "/bin/false";
  spec.kernel = spec.rootfs = spec.initramfs = "/nonexistent";
  spec.ready_timeout = std::chrono::seconds(60);
  const auto start = std::chrono::steady_clock::now();
  auto vm = BootedVm::boot(spec);
  ASSERT_FALSE(vm.ok());
  EXPECT_NE(vm.error().message().find("ember-vmm exited with code 1"), std::string::npos)
      << vm.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace ember::host
