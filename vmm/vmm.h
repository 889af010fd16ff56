// Vmm: one microVM built from a VmmConfig, run until the guest reboots or crashes.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "common/result.h"
#include "common/working_set.h"
#include "vmm/boot/cmdline.h"
#include "vmm/control/control_protocol.h"
#include "vmm/control/control_server.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/io_bus.h"
#include "vmm/devices/serial.h"
#include "vmm/event_loop.h"
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/kvm_stats.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/seccomp/thread_filters.h"
#include "vmm/snapshot/snapshot_state.h"
#include "vmm/vcpu_runner.h"
#include "vmm/virtio/mmio_transport.h"
#include "vmm/vmm_config.h"

namespace ember::vmm {

// One virtio-mmio slot of the fixed device order: root disk, further disks, vsock, net.
struct VirtioSlotPlan {
  enum class Kind { kBlock, kVsock, kNet };
  Kind kind = Kind::kBlock;
  VirtioMmioSlot slot;
  DiskConfig disk;  // for kBlock
};

// Slot i sits at layout::kVirtioMmioBase + i * 0x1000 with GSI 5 + i.
std::vector<VirtioSlotPlan> plan_virtio_slots(const VmmConfig& config);

// The kernel command line for `config` (docs/vmm-interfaces.md).
Result<std::string> kernel_cmdline_for(const VmmConfig& config);

// How a slot's device is recorded in a snapshot.
VirtioDeviceState::Kind snapshot_kind(VirtioSlotPlan::Kind kind);

// The VM of snapshot machine `m` with the restore flags' overrides (vmm_restore.cc);
// refuses overrides that do not fit the snapshot, such as --net-fd for a VM without a
// network device or its absence for one with.
Result<VmmConfig> restored_config(const VmmConfig& flags, const SnapshotMachine& m);

// --netns: setns(CLONE_NEWNET) into the namespace at `path`, for this thread and the
// threads it starts later; run() calls it before anything else.
Status join_network_namespace(const std::string& path);

class Vmm final : public ControlTarget {
 public:
  // Builds everything; nothing runs yet. Errors name the failing step.
  static Result<std::unique_ptr<Vmm>> build(const VmmConfig& config);
  // Rebuilds the VM saved in config.restore_dir (vmm_restore.cc): checks state.bin and
  // memory.bin before loading anything, then restores memory, VM, vCPUs and devices. Nothing
  // runs yet; with config.start_paused the vCPUs stay parked until a resume.
  static Result<std::unique_ptr<Vmm>> restore(const VmmConfig& config);
  // The two halves of restore(): KVM and an empty VM (what a standby VMM prepares ahead),
  // then the snapshot in config.restore_dir with config's overrides. Call load once.
  static Result<std::unique_ptr<Vmm>> create_for_restore(const VmmConfig& config);
  Status load_snapshot(const VmmConfig& config);
  ~Vmm() override;
  Vmm(const Vmm&) = delete;
  Vmm& operator=(const Vmm&) = delete;

  // Starts one thread per vCPU, runs the event loop on this thread until the guest or a
  // device ends the VM, stops and joins every vCPU, and returns the exit code. Call once.
  // With `filters` (whose startup filter this thread has loaded), each vCPU thread loads
  // filters->vcpu before its first KVM_RUN and this thread loads filters->event_loop once
  // they are all started (thread_filters.h gives the order).
  ExitCode run(const seccomp::ThreadFilters* filters = nullptr);
  const std::string& exit_reason() const { return exit_reason_; }
  const Serial& serial() const { return *serial_; }

  // ControlTarget (vmm_control.cc), on the event loop thread.
  Status pause() override;
  Status resume() override;
  bool paused() const override { return paused_; }
  Status snapshot(const std::string& dir) override;
  ControlStats stats() const override;

 private:
  struct VirtioAttachment {
    VirtioSlotPlan plan;
    std::shared_ptr<virtio::MmioTransport> transport;
  };

  explicit Vmm(const VmmConfig& config) : config_(config) {}

  Status create_vm();
  Status create_memory();
  Status create_event_loop();
  Status start_control_socket();
  // Restore steps (vmm_restore.cc).
  Status map_snapshot_memory(int fd);
  // Maps the pages in <dir>/working_set (when there is one) into this process ahead,
  // before any vCPU runs, and returns their runs (none when there is no usable file).
  std::vector<PageRun> install_snapshot_working_set(const std::string& dir);
  // Maps those pages into KVM's guest-physical page tables too, where KVM has
  // KVM_PRE_FAULT_MEMORY; needs the vCPUs created and restored.
  void pre_fault_working_set(const std::vector<PageRun>& runs);
  Status restore_vcpus(const SnapshotState& state);
  Status restore_devices(const DeviceStates& devices);
  // Snapshot capture (vmm_control.cc).
  SnapshotMachine describe_machine() const;
  Result<DeviceStates> save_devices() const;
  Status attach_legacy_devices();
  // Integration point for the virtio devices: creates each planned device, wraps it in a
  // virtio-mmio transport and hands it to attach_virtio_mmio().
  Status attach_virtio_devices();
  // Puts `device` on the MMIO bus at slot.base, wires `irq_fd` as an irqfd on slot.gsi and
  // `notify_fds[q]` as an ioeventfd on QueueNotify (base + 0x50) matching queue q.
  Status attach_virtio_mmio(std::shared_ptr<MmioDevice> device, const VirtioMmioSlot& slot,
                            int irq_fd, const std::vector<int>& notify_fds);
  Status load_guest();
  Status create_vcpus();
  void open_kvm_stats();
  void on_reset_request();

  VmmConfig config_;
  GuestMemory memory_;
  std::optional<Kvm> kvm_;
  std::optional<Vm> vm_;
  std::optional<EventLoop> loop_;
  ExitRequest exit_;
  std::string exit_reason_;
  uint64_t kernel_entry_ = 0;
  std::string kernel_cmdline_;  // as booted (saved in snapshots)

  UniqueFd serial_irq_;
  std::shared_ptr<Serial> serial_;
  std::shared_ptr<I8042> i8042_;
  IoBus pio_bus_;
  IoBus mmio_bus_;
  std::vector<VirtioAttachment> virtio_;  // in slot order

  std::vector<Vcpu> vcpus_;
  std::vector<std::unique_ptr<VcpuRunner>> runners_;
  // KVM's statistics for {"op":"stats"}, opened before the vCPUs run; none on old kernels.
  std::optional<KvmStats> vm_stats_;
  std::vector<KvmStats> vcpu_stats_;

  PauseGate pause_gate_;
  ExitCounters exit_counters_;
  bool paused_ = false;  // event loop thread only
  std::unique_ptr<ControlServer> control_;
};

// Builds (or, with config.restore_dir, restores; with config.standby, waits for a restore
// request first) and runs the VM described by `config`, logging the outcome; returns the
// process exit code.
ExitCode run(const VmmConfig& config);
// Runs a built or restored VM to its end and logs the outcome (vmm.cc).
ExitCode run_to_exit(Vmm& vmm, const VmmConfig& config, const seccomp::ThreadFilters* filters);
// ember-vmm --standby (vmm_standby.cc), its startup filter already loaded when filters is set.
ExitCode run_standby(const VmmConfig& flags, const seccomp::ThreadFilters* filters);

}  // namespace ember::vmm
