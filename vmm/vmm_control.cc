// Vmm as a ControlTarget: pause, resume, stats and snapshot capture.
#include <sys/resource.h>

#include <chrono>

#include "vmm/logger.h"
#include "vmm/snapshot/kvm_state.h"
#include "vmm/snapshot/state_file.h"
#include "vmm/virtio/block.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/vsock.h"
#include "vmm/vmm.h"

namespace ember::vmm {
namespace {

constexpr std::chrono::milliseconds kPauseTimeout{5000};

}  // namespace

Status Vmm::pause() {
  if (paused_) return {};
  pause_gate_.request_pause();
  for (auto& runner : runners_) runner->kick();
  if (!pause_gate_.wait_parked(runners_.size(), kPauseTimeout)) {
    pause_gate_.resume();
    return make_error("pause", "the vCPUs did not stop within 5 s; the VM keeps running");
  }
  paused_ = true;
  return {};
}

Status Vmm::resume() {
  pause_gate_.resume();
  paused_ = false;
  return {};
}

ControlStats Vmm::stats() const {
  ControlStats st;
  st.paused = paused_;
  st.uptime_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - config_.start_time)
                                           .count());
  const ExitCounters& c = exit_counters_;
  st.exits = {{"io", c.io.load()},
              {"mmio", c.mmio.load()},
              {"intr", c.intr.load()},
              {"hlt", c.hlt.load()},
              {"shutdown", c.shutdown.load()},
              {"system_event", c.system_event.load()},
              {"other", c.other.load()}};
  st.mem_mib = config_.mem_mib;
  st.vcpus = config_.vcpus;
  if (vm_stats_) {
    auto vm = vm_stats_->read();
    if (vm.ok()) st.kvm_vm = std::move(vm).value();
  }
  for (const KvmStats& vcpu : vcpu_stats_) {
    auto values = vcpu.read();
    if (values.ok()) add_stats(st.kvm_vcpus, *values);
  }
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    st.host_minor_faults = static_cast<uint64_t>(usage.ru_minflt);
    st.host_major_faults = static_cast<uint64_t>(usage.ru_majflt);
  }
  return st;
}

SnapshotMachine Vmm::describe_machine() const {
  SnapshotMachine m;
  m.mem_mib = config_.mem_mib;
  m.vcpus = config_.vcpus;
  for (const VirtioAttachment& a : virtio_) {
    if (a.plan.kind != VirtioSlotPlan::Kind::kBlock) continue;
    const bool is_root = config_.root && m.disks.empty();
    m.disks.push_back({a.plan.disk.path, a.plan.disk.read_only, is_root});
  }
  m.has_vsock = !config_.vsock_uds.empty();
  m.vsock_cid = config_.vsock_cid;
  m.vsock_uds = config_.vsock_uds;
  m.cmdline = kernel_cmdline_;
  m.console = config_.console;
  m.has_net = config_.net_fd >= 0;
  m.net_mac = config_.net_mac;
  return m;
}

Result<DeviceStates> Vmm::save_devices() const {
  DeviceStates d;
  d.serial = serial_->save();
  d.i8042 = i8042_->save();
  for (const VirtioAttachment& a : virtio_) {
    VirtioDeviceState v;
    v.kind = snapshot_kind(a.plan.kind);
    const virtio::VirtioDevice& dev = a.transport->device();
    switch (a.plan.kind) {
      case VirtioSlotPlan::Kind::kBlock:
        v.block = static_cast<const virtio::Block&>(dev).save();
        break;
      case VirtioSlotPlan::Kind::kVsock:
        v.vsock = static_cast<const virtio::Vsock&>(dev).save();
        break;
      case VirtioSlotPlan::Kind::kNet:
        v.net = static_cast<const virtio::Net&>(dev).save();
        break;
    }
    v.transport = a.transport->save();
    d.virtio.push_back(std::move(v));
  }
  return d;
}

Status Vmm::snapshot(const std::string& dir) {
  if (!paused_) return make_error("snapshot", "the VM must be paused first");
  const auto t0 = std::chrono::steady_clock::now();
  SnapshotState state;
  state.machine = describe_machine();
  EMBER_TRY(state.vm, capture_vm(*vm_));
  EMBER_TRY(std::vector<uint32_t> kvm_msrs, kvm_->msr_index_list());
  const std::vector<uint32_t> msrs = msrs_to_capture(kvm_msrs);
  const int xsave2 = vm_->check_extension(KVM_CAP_XSAVE2);
  const size_t xsave_size = xsave2 > 0 ? static_cast<size_t>(xsave2) : 0;
  for (const Vcpu& vcpu : vcpus_) {
    EMBER_TRY(VcpuState v, capture_vcpu(vcpu, msrs, xsave_size));
    state.vcpus.push_back(std::move(v));
  }
  EMBER_TRY(state.devices, save_devices());
  const std::vector<uint8_t> framed = frame_state(kSnapshotVersion, encode_snapshot(state));
  EMBER_CHECK(write_snapshot_dir(dir, framed, memory_));
  log_info("snapshot written to " + dir + " in " +
           std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - t0)
                              .count()) +
           " us");
  return {};
}

}  // namespace ember::vmm
