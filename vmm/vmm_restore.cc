// Vmm::restore: rebuilds a snapshot's VM (no kernel load) and loads its saved state.
#include <chrono>

#include "common/working_set.h"
#include "vmm/kvm/kvm_abi.h"
#include "vmm/logger.h"
#include "vmm/snapshot/kvm_state.h"
#include "vmm/snapshot/state_file.h"
#include "vmm/virtio/block.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/vsock.h"
#include "vmm/vmm.h"

namespace ember::vmm {
namespace {

using Clock = std::chrono::steady_clock;

int64_t micros_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
}

}  // namespace

Result<VmmConfig> restored_config(const VmmConfig& flags, const SnapshotMachine& m) {
  VmmConfig c = flags;
  c.mem_mib = m.mem_mib;
  c.vcpus = m.vcpus;
  c.vsock_cid = m.vsock_cid;
  c.vsock_uds = m.has_vsock ? (flags.vsock_uds.empty() ? m.vsock_uds : flags.vsock_uds) : "";
  if (!m.has_vsock && !flags.vsock_uds.empty()) {
    return make_error("restore", "--vsock-uds given, but the snapshot's VM has no vsock device");
  }
  // The tap cannot come from the snapshot: each clone gets its own, in its own namespace.
  if (m.has_net && flags.net_fd < 0) {
    return make_error("restore", "the snapshot's VM has a network device: give --net-fd N, a tap "
                                 "opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR");
  }
  if (!m.has_net && flags.net_fd >= 0) {
    return make_error("restore", "--net-fd given, but the snapshot's VM has no network device");
  }
  c.net_mac = m.net_mac;
  if (!flags.restore_disks.empty() && flags.restore_disks.size() != m.disks.size()) {
    return make_error("restore", "--disk given " + std::to_string(flags.restore_disks.size()) +
                                     " times; the snapshot has " + std::to_string(m.disks.size()) +
                                     " disks (root first), give each once or none");
  }
  c.root.reset();
  c.disks.clear();
  for (size_t i = 0; i < m.disks.size(); ++i) {
    DiskConfig disk{m.disks[i].path, m.disks[i].read_only};
    if (!flags.restore_disks.empty()) {
      const std::string& spec = flags.restore_disks[i];
      EMBER_TRY(DiskConfig given, parse_disk_spec(spec));
      const bool has_mode = spec.ends_with(":ro") || spec.ends_with(":rw");
      disk = {given.path, has_mode ? given.read_only : m.disks[i].read_only};
    }
    if (m.disks[i].is_root) {
      c.root = disk;
    } else {
      c.disks.push_back(disk);
    }
  }
  return c;
}

Result<std::unique_ptr<Vmm>> Vmm::restore(const VmmConfig& flags) {
  const auto t0 = Clock::now();
  EMBER_TRY(std::unique_ptr<Vmm> vmm, create_for_restore(flags));
  if (log_enabled(LogLevel::kDebug)) {
    log_debug("restore: create VM took " + std::to_string(micros_since(t0)) + " us");
  }
  EMBER_CHECK(vmm->load_snapshot(flags));
  return vmm;
}

Result<std::unique_ptr<Vmm>> Vmm::create_for_restore(const VmmConfig& flags) {
  std::unique_ptr<Vmm> vmm(new Vmm(flags));
  EMBER_CHECK(vmm->create_vm());
  return vmm;
}

Status Vmm::load_snapshot(const VmmConfig& flags) {
  const auto t0 = Clock::now();
  auto t = t0;
  auto lap = [&t](const char* step) {
    if (log_enabled(LogLevel::kDebug)) {
      log_debug(std::string("restore: ") + step + " took " + std::to_string(micros_since(t)) +
                " us");
    }
    t = Clock::now();
  };
  // Everything that can refuse the snapshot happens before the VM is touched.
  EMBER_TRY(std::vector<uint8_t> payload, read_state_file(flags.restore_dir, kSnapshotVersion));
  EMBER_TRY(SnapshotState state, decode_snapshot(payload));
  EMBER_TRY(UniqueFd memory_fd, open_memory_file(flags.restore_dir, state.machine.mem_mib << 20));
  EMBER_TRY(config_, restored_config(flags, state.machine));
  kernel_cmdline_ = state.machine.cmdline;
  lap("read and check state");

  EMBER_CHECK(map_snapshot_memory(memory_fd.get()));
  lap("map memory");
  const std::vector<PageRun> working_set = install_snapshot_working_set(flags.restore_dir);
  lap("install working set");
  EMBER_CHECK(attach_legacy_devices());
  EMBER_CHECK(attach_virtio_devices());
  lap("attach devices");
  EMBER_CHECK(apply_vm(*vm_, state.vm));
  lap("restore VM state");
  EMBER_CHECK(restore_vcpus(state));
  lap("create and restore vCPUs");
  pre_fault_working_set(working_set);
  lap("pre-fault working set");
  EMBER_CHECK(restore_devices(state.devices));
  lap("restore devices");
  EMBER_CHECK(start_control_socket());
  log_info("restored in " + std::to_string(micros_since(t0)) + " us");
  return {};
}

Status Vmm::map_snapshot_memory(int fd) {
  // MAP_PRIVATE: the guest's writes stay in this process; clones share the page cache.
  EMBER_TRY(GuestMemory memory, GuestMemory::map_file_private(fd, config_.mem_mib << 20));
  memory_ = std::move(memory);
  EMBER_CHECK(vm_->set_memory(memory_));
  return create_event_loop();
}

std::vector<PageRun> Vmm::install_snapshot_working_set(const std::string& dir) {
  const std::string path = dir + "/" + kWorkingSetFile;
  // None recorded (yet): the guest faults its pages in as it goes. A working set only speeds
  // a restore up: one that cannot be used is logged and skipped.
  auto runs = read_working_set(path, memory_.size() / kWorkingSetPageSize);
  if (runs.ok() && runs->empty()) return {};
  if (!runs.ok()) {
    log_warn("working set " + path + " skipped: " + runs.error().message());
    return {};
  }
  std::vector<MappedFileRange> ranges;
  for (const MemoryRegion& r : memory_.regions()) ranges.push_back({r.host, r.file_offset, r.size});
  auto installed = install_working_set(ranges, *runs);
  if (!installed.ok()) {
    log_warn("working set " + path + " not installed: " + installed.error().message());
    return {};
  }
  log_info("working set: " + std::to_string(*installed) + " pages in " +
           std::to_string(runs->size()) + " runs installed before the vCPUs run");
  return std::move(*runs);
}

void Vmm::pre_fault_working_set(const std::vector<PageRun>& runs) {
  if (runs.empty() || vcpus_.empty()) return;
  if (vm_->check_extension(kvm_abi::kCapPreFaultMemory) <= 0) {
    log_debug("working set: this kernel's KVM has no KVM_PRE_FAULT_MEMORY (Linux 6.10+); the "
              "guest maps each page into KVM on its first touch");
    return;
  }
  const auto t0 = Clock::now();
  uint64_t pages = 0;
  for (const GuestPageRun& run : guest_page_runs(runs)) {
    Status s = vcpus_[0].pre_fault_memory(run.first_page * kWorkingSetPageSize,
                                          run.pages * kWorkingSetPageSize);
    if (!s.ok()) {  // only a speed-up: the guest faults the rest in as it goes
      log_warn("working set: pre-faulting stopped: " + s.error().message());
      return;
    }
    pages += run.pages;
  }
  log_info("working set: " + std::to_string(pages) + " pages mapped into KVM ahead in " +
           std::to_string(micros_since(t0)) + " us");
}

Status Vmm::restore_vcpus(const SnapshotState& state) {
  vcpus_.reserve(config_.vcpus);
  for (uint32_t id = 0; id < config_.vcpus; ++id) {
    EMBER_TRY(Vcpu vcpu, vm_->create_vcpu(id));
    Status s = apply_vcpu(vcpu, state.vcpus.at(id));
    if (!s.ok()) {
      Error e = s.error();
      e.op = "restore vcpu " + std::to_string(id) + ": " + e.op;
      return e;
    }
    vcpus_.push_back(std::move(vcpu));
  }
  return {};
}

Status Vmm::restore_devices(const DeviceStates& devices) {
  serial_->restore(devices.serial);
  i8042_->restore(devices.i8042);
  if (devices.virtio.size() != virtio_.size()) {
    return make_error("restore devices", "snapshot and VM disagree on the virtio devices");
  }
  for (size_t i = 0; i < virtio_.size(); ++i) {
    const VirtioDeviceState& saved = devices.virtio[i];
    VirtioAttachment& a = virtio_[i];
    if (snapshot_kind(a.plan.kind) != saved.kind) {
      return make_error("restore devices", "virtio slot " + std::to_string(i) + " changed kind");
    }
    // Device first: the transport re-activates it when the driver had set DRIVER_OK (for
    // the network device that re-arms the tap, so the first packet gets through).
    switch (a.plan.kind) {
      case VirtioSlotPlan::Kind::kBlock: {
        auto& dev = static_cast<virtio::Block&>(a.transport->device());
        Status s = dev.restore(saved.block);
        if (!s.ok()) {
          Error e = s.error();
          e.context += " (disk " + a.plan.disk.path + ")";
          return e;
        }
        break;
      }
      case VirtioSlotPlan::Kind::kVsock:
        EMBER_CHECK(static_cast<virtio::Vsock&>(a.transport->device()).restore(saved.vsock));
        break;
      case VirtioSlotPlan::Kind::kNet:
        EMBER_CHECK(static_cast<virtio::Net&>(a.transport->device()).restore(saved.net));
        break;
    }
    EMBER_CHECK(a.transport->restore(saved.transport));
    if (a.plan.kind == VirtioSlotPlan::Kind::kVsock) {
      // Host connections died with the old process: the guest must drop its sockets.
      static_cast<virtio::Vsock&>(a.transport->device()).reset_all_connections();
    }
  }
  return {};
}

}  // namespace ember::vmm
