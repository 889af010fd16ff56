// ember-vmm: parses flags into a VmmConfig, refuses unusable hosts, runs the VM.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "vmm/vmm.h"
#include "vmm/vmm_config.h"

int main(int argc, char** argv) {
  using ember::vmm::ExitCode;
  const auto start = std::chrono::steady_clock::now();
  auto parsed = ember::vmm::parse_flags(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "ember-vmm: %s\nTry 'ember-vmm --help'.\n",
                 parsed.error().message().c_str());
    return static_cast<int>(ExitCode::kUsage);
  }
  if (parsed->help) {
    std::fputs(ember::vmm::usage_text().c_str(), stdout);
    return 0;
  }
  // PVM emulates a normal guest kernel's supervisor mode one instruction at a time: the
  // boot would crawl for minutes and then fail, so say so instead of hanging.
  const char* allow = std::getenv("EMBER_ALLOW_PVM");
  if (std::filesystem::exists("/sys/module/kvm_pvm") && !(allow && std::strcmp(allow, "1") == 0)) {
    std::fputs(
        "ember-vmm: error: /dev/kvm on this host is PVM (kvm_pvm is loaded), which cannot run an "
        "ordinary guest kernel at useful speed; a PVM-enabled guest kernel (CONFIG_PVM_GUEST) is "
        "required here, or run on a host with hardware virtualization. Set EMBER_ALLOW_PVM=1 to "
        "try anyway.\n",
        stderr);
    return static_cast<int>(ExitCode::kVmmError);
  }
  parsed->config.start_time = start;
  return static_cast<int>(ember::vmm::run(parsed->config));
}
