// GuestVm: test helper that boots Ember's guest (kernel, initramfs, root image) under
// ember-vmm and waits for the agent. For tests under tests/vm (label "vm", real KVM).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/agent_protocol.h"
#include "host/agent_client.h"
#include "host/vm_client.h"

namespace ember::test {

// Paths of the guest artifacts: EMBER_KERNEL / EMBER_ROOTFS / EMBER_INITRAMFS / EMBER_VMM
// when set, else what scripts/build-kernel, scripts/build-rootfs and the build tree hold.
struct GuestArtifacts {
  std::string vmm, kernel, rootfs, initramfs;
  static GuestArtifacts find();
};

// Deadline for boot-to-ready inside the (slow, emulated) KVM test host.
inline constexpr std::chrono::seconds kReadyTimeout{120};

class GuestVm {
 public:
  // Starts a VM; config's kernel/root/initrd/vmm/vsock fields are filled in here.
  static Result<GuestVm> start(host::VmConfig config);

  // Waits for the agent's Ready.
  Result<ReadyMsg> wait_ready();
  // Runs argv in the guest with a default PATH.
  Result<ExecResult> run(std::vector<std::string> argv, std::string stdin_data = {});

  host::VmProcess& process() { return *process_; }
  host::AgentClient& agent() { return *agent_; }

 private:
  std::string dir_;
  std::optional<host::AgentClient> agent_;
  std::optional<host::VmProcess> process_;
};

}  // namespace ember::test
