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
  // Starts a VM; config's kernel/root/initrd/vmm/vsock fields are filled in here. With
  // api_sock the VMM also listens on api_sock_path() for control requests.
  static Result<GuestVm> start(host::VmConfig config, bool api_sock = false);
  // Restores the snapshot in `dir` with a fresh vsock and api socket (plus `extra_args`,
  // e.g. "--start-paused"). There is no Ready: call connect_agent() once it runs.
  static Result<GuestVm> restore(const std::string& dir,
                                 std::vector<std::string> extra_args = {});
  // For a restored VM: opens an agent session straight on the vsock (retrying until
  // `timeout`); run() then uses it.
  Status connect_agent(std::chrono::milliseconds timeout);

  // Sends one control request line and returns the reply line (without newline).
  Result<std::string> control(const std::string& request_json,
                              std::chrono::milliseconds timeout = std::chrono::seconds(60));
  const std::string& api_sock_path() const { return api_sock_; }
  const std::string& vsock_path() const { return vsock_; }

  // Waits for the agent's Ready.
  Result<ReadyMsg> wait_ready();
  // Runs argv in the guest with a default PATH.
  Result<ExecResult> run(std::vector<std::string> argv, std::string stdin_data = {});

  host::VmProcess& process() { return *process_; }
  host::AgentClient& agent() { return *agent_; }

 private:
  static std::string fresh_dir();

  std::string dir_;
  std::string api_sock_;
  std::string vsock_;
  std::optional<host::AgentClient> agent_;
  std::optional<host::AgentSession> session_;  // restored VMs
  std::optional<host::VmProcess> process_;
};

}  // namespace ember::test
