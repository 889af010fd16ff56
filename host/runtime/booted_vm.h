// BootedVm: a function's VM booted from the kernel, its runtime initialized, ready to be
// snapshotted (the first cold start of a function revision).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/agent_protocol.h"
#include "common/result.h"
#include "host/agent_client.h"
#include "host/pool.h"
#include "host/standby_vmm.h"
#include "host/vm_client.h"
#include "host/vm_socket_files.h"

namespace ember::host {

struct BootSpec {
  std::string vmm_path, kernel, rootfs, initramfs;
  std::string code_image;  // erofs, attached read-only as /dev/vdb
  uint32_t memory_mb = 128;
  uint32_t vcpus = 1;
  uint32_t tmp_mib = 512;  // ember.tmp_mib: the size of the guest's /tmp
  std::string run_dir = "/tmp";
  std::chrono::milliseconds ready_timeout{std::chrono::seconds(60)};
  // When set, the VM gets a network namespace, a tap and eth0 configured at boot.
  net::HostNetwork* network = nullptr;
  net::EgressPolicy egress;  // with a network: what the VM may reach, from its first instruction
  // When set, the VMM is jailed; its snapshots are written inside the jail, then moved out.
  std::shared_ptr<jail::VmJails> jails;
  bool test_forbidden_syscall = false;  // ember-vmm --test-forbidden-syscall-on-vcpu
  // When set (a cgroup v2 root), the VMM starts in a cgroup of its own: booted_vmm_limits.
  std::string cgroup_root;
};

inline constexpr const char* kCodeDevice = "/dev/vdb";

class BootedVm : public PooledVm {
 public:
  // Starts ember-vmm with a control socket and waits for the agent's Ready.
  static Result<std::unique_ptr<BootedVm>> boot(const BootSpec& spec);

  AgentSession& agent() override { return session_; }
  VmProcess& process() override { return vmm_.process; }
  const net::VmNetns* netns() const override { return vmm_.net ? &*vmm_.net : nullptr; }
  double egress_ms() const override { return vmm_.egress_ms; }
  const VmCgroup* cgroup() const override { return vmm_.cgroup ? &*vmm_.cgroup : nullptr; }
  bool alive() override;

  // Pauses the VM, writes a snapshot into `dir` (through `<dir>.tmp`, or a directory in a
  // jailed VMM's run directory, renamed when complete, so `dir` either holds a whole
  // snapshot or does not exist) and resumes. A jailed VMM's snapshot is then owned by root,
  // read-only to every VMM.
  Status snapshot(const std::string& dir);

 private:
  BootedVm(AgentClient client, SpawnedVmm vmm, AgentSession session)
      : client_(std::move(client)), vmm_(std::move(vmm)), session_(std::move(session)) {}

  AgentClient client_;
  SpawnedVmm vmm_;
  AgentSession session_;
};

}  // namespace ember::host
