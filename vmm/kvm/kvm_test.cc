// Tests for the KVM wrappers that need no /dev/kvm: error messages and ABI layout.
#include "vmm/kvm/kvm.h"

#include <gtest/gtest.h>

#include "vmm/kvm/kvm_abi.h"

namespace ember::vmm {
namespace {

TEST(Kvm, MissingDeviceSaysWhatToDo) {
  auto kvm = Kvm::open("/nonexistent/kvm");
  ASSERT_FALSE(kvm.ok());
  const std::string message = kvm.error().message();
  EXPECT_NE(message.find("/nonexistent/kvm"), std::string::npos) << message;
  EXPECT_NE(message.find("modprobe"), std::string::npos) << message;
}

TEST(Kvm, NonKvmDeviceFailsTheApiCheck) {
  auto kvm = Kvm::open("/dev/null");
  ASSERT_FALSE(kvm.ok());
  EXPECT_NE(kvm.error().message().find("KVM_GET_API_VERSION"), std::string::npos);
}

TEST(KvmAbi, FlexibleArrayHeadersHaveTheCLayout) {
  // Entries follow the 8-byte headers directly, as the kernel reads them.
  EXPECT_EQ(sizeof(kvm_abi::CpuidHeader), 8u);
  EXPECT_EQ(sizeof(kvm_abi::MsrsHeader), 8u);
  EXPECT_EQ(sizeof(kvm_abi::MsrListHeader), 4u);
  EXPECT_EQ(sizeof(kvm_cpuid_entry2), 40u);
  EXPECT_EQ(sizeof(kvm_msr_entry), 16u);
}

}  // namespace
}  // namespace ember::vmm
