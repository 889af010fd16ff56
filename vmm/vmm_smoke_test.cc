// Smoke tests: tiny hand-assembled 64-bit guests booted through the whole VMM on real KVM.
//
// They cover the KVM ioctls, the boot protocol entry state, serial output and every way a
// VM can end, and are skipped when /dev/kvm cannot be opened. The guests run a few dozen
// instructions, so they are fast even where guest kernel mode is emulated (PVM).
#include <elf.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "vmm/boot/elf_test_header.h"
#include "vmm/kvm/kvm.h"
#include "vmm/vmm.h"

namespace ember::vmm {
namespace {

constexpr uint64_t kEntry = 0x100'0000;

// Checks the 64-bit entry state (RSI -> zero page with "HdrS", 64-bit operands, CS 0x10,
// DS 0x18), prints the first command line byte and 'Y' (or 'N' on a mismatch) to the
// UART, then resets through the i8042.
const std::vector<uint8_t> kCheckEntryState = {
    0x66, 0xba, 0xf8, 0x03,                                      // mov $0x3f8, %dx
    0x81, 0xbe, 0x02, 0x02, 0x00, 0x00, 0x48, 0x64, 0x72, 0x53,  // cmpl $HdrS, 0x202(%rsi)
    0x75, 0x38,                                                  // jne bad
    0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  // movabs $0x11..88, %rax
    0x48, 0xc1, 0xe8, 0x20,                                      // shr $32, %rax
    0x3d, 0x44, 0x33, 0x22, 0x11,                                // cmp $0x11223344, %eax
    0x75, 0x23,                                                  // jne bad
    0x66, 0x8c, 0xc8, 0x66, 0x83, 0xf8, 0x10, 0x75, 0x1a,        // cs == 0x10?
    0x66, 0x8c, 0xd8, 0x66, 0x83, 0xf8, 0x18, 0x75, 0x11,        // ds == 0x18?
    0x8b, 0x9e, 0x28, 0x02, 0x00, 0x00,                          // mov 0x228(%rsi), %ebx
    0x8a, 0x03, 0xee,                                            // out (%rbx) byte
    0xb0, 0x59, 0xee, 0xb0, 0x0a, 0xee,                          // out 'Y', '\n'
    0xeb, 0x03,                                                  // jmp reset
    0xb0, 0x4e, 0xee,                                            // bad: out 'N'
    0xb0, 0xfe, 0xe6, 0x64,                                      // reset: outb 0xfe, 0x64
    0xf4, 0xeb, 0xfd,                                            // hlt; jmp hlt
};

// Executes ud2 with an empty IDT: #UD -> #DF -> triple fault.
const std::vector<uint8_t> kTripleFault = {0x0f, 0x0b};

std::vector<uint8_t> print_then_reset(const std::string& text) {
  std::vector<uint8_t> code = {0x66, 0xba, 0xf8, 0x03};  // mov $0x3f8, %dx
  for (char c : text) {
    code.insert(code.end(), {0xb0, static_cast<uint8_t>(c), 0xee});  // mov $c, %al; out
  }
  code.insert(code.end(), {0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd});
  return code;
}

// Writes `code` as a one-segment ELF64 executable loaded and entered at kEntry.
std::string write_kernel(const std::vector<uint8_t>& code) {
  Elf64_Ehdr eh = x86_64_exec_header(kEntry);
  eh.e_phoff = sizeof(eh);
  eh.e_phnum = 1;
  Elf64_Phdr ph{};
  ph.p_type = PT_LOAD;
  ph.p_flags = PF_R | PF_X;
  ph.p_offset = sizeof(eh) + sizeof(ph);
  ph.p_vaddr = ph.p_paddr = kEntry;
  ph.p_filesz = ph.p_memsz = code.size();
  char path[] = "/tmp/ember-smoke-kernel-XXXXXX";
  const int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, &eh, sizeof(eh)), static_cast<ssize_t>(sizeof(eh)));
  EXPECT_EQ(::write(fd, &ph, sizeof(ph)), static_cast<ssize_t>(sizeof(ph)));
  EXPECT_EQ(::write(fd, code.data(), code.size()), static_cast<ssize_t>(code.size()));
  ::close(fd);
  return path;
}

class VmmSmokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Kvm::open().ok()) GTEST_SKIP() << "/dev/kvm is not usable here";
  }
  void TearDown() override {
    if (!kernel_.empty()) ::unlink(kernel_.c_str());
  }
  // Boots `code` and returns how the VM ended.
  ExitCode boot(const std::vector<uint8_t>& code, uint32_t vcpus = 1) {
    kernel_ = write_kernel(code);
    VmmConfig config;
    config.kernel = kernel_;
    config.mem_mib = 64;
    config.vcpus = vcpus;
    auto vmm = Vmm::build(config);
    if (!vmm.ok()) {
      ADD_FAILURE() << vmm.error().message();
      return ExitCode::kVmmError;
    }
    const ExitCode code_out = (*vmm)->run();
    output_ = (*vmm)->serial().recent_output();
    reason_ = (*vmm)->exit_reason();
    return code_out;
  }
  // Boots `code` through run(), as ember-vmm's main() does (seccomp filters included), in a
  // forked child; returns its wait status.
  int boot_in_child(const std::vector<uint8_t>& code, uint32_t vcpus, seccomp::Mode mode,
                    bool forbidden_syscall_on_vcpu = false) {
    kernel_ = write_kernel(code);
    VmmConfig config;
    config.kernel = kernel_;
    config.mem_mib = 64;
    config.vcpus = vcpus;
    config.log_level = LogLevel::kError;
    config.seccomp = mode;
    config.test_forbidden_syscall_on_vcpu = forbidden_syscall_on_vcpu;
    const pid_t pid = ::fork();
    if (pid == 0) {
      const rlimit no_core{0, 0};
      ::setrlimit(RLIMIT_CORE, &no_core);  // SIGSYS would dump core
      ::_exit(static_cast<int>(run(config)));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
  }
  std::string kernel_, output_, reason_;
};

bool exited_with(int status, ExitCode code) {
  return WIFEXITED(status) && WEXITSTATUS(status) == static_cast<int>(code);
}

TEST_F(VmmSmokeTest, EntersLongModeWithBootProtocolStateAndResets) {
  EXPECT_EQ(boot(kCheckEntryState), ExitCode::kGuestShutdown) << reason_;
  EXPECT_EQ(output_, "rY\n") << "'r' is the first byte of \"reboot=k ...\"";
}

TEST_F(VmmSmokeTest, ResetWithSeveralVcpusStopsTheWaitingAps) {
  EXPECT_EQ(boot(kCheckEntryState, 3), ExitCode::kGuestShutdown) << reason_;
  EXPECT_EQ(output_, "rY\n");
}

TEST_F(VmmSmokeTest, PanicLineThenResetIsACrash) {
  EXPECT_EQ(boot(print_then_reset("Kernel panic - not syncing: smoke\n")), ExitCode::kGuestCrash);
  EXPECT_NE(reason_.find("Kernel panic - not syncing: smoke"), std::string::npos) << reason_;
}

TEST_F(VmmSmokeTest, TripleFaultIsACrash) {
  EXPECT_EQ(boot(kTripleFault), ExitCode::kGuestCrash);
  EXPECT_NE(reason_.find("triple fault"), std::string::npos) << reason_;
}

TEST_F(VmmSmokeTest, BootsAndShutsDownWithEveryThreadUnderItsSeccompFilter) {
  const int status = boot_in_child(kCheckEntryState, 3, seccomp::Mode::kKill);
  EXPECT_TRUE(exited_with(status, ExitCode::kGuestShutdown)) << "wait status " << status;
}

TEST_F(VmmSmokeTest, AForbiddenSyscallOnAVcpuKillsTheWholeVmm) {
  int status = boot_in_child(kCheckEntryState, 2, seccomp::Mode::kKill, true);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << "wait status " << status;
  // Only logged, or no filter at all: the same VM runs to its reset.
  for (seccomp::Mode mode : {seccomp::Mode::kLog, seccomp::Mode::kOff}) {
    status = boot_in_child(kCheckEntryState, 2, mode, true);
    EXPECT_TRUE(exited_with(status, ExitCode::kGuestShutdown)) << "wait status " << status;
  }
}

}  // namespace
}  // namespace ember::vmm
