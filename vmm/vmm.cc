// Vmm: builds the VM in a fixed order (KVM, memory, devices, boot data, vCPUs) and runs it.
#include "vmm/vmm.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>

#include "vmm/arch/vcpu_setup.h"
#include "vmm/boot/elf_loader.h"
#include "vmm/boot/gdt.h"
#include "vmm/boot/initrd.h"
#include "vmm/boot/layout.h"
#include "vmm/boot/mptable.h"
#include "vmm/boot/page_tables.h"
#include "vmm/boot/zero_page.h"
#include "vmm/logger.h"

#include "vmm/virtio/block.h"
#include "vmm/virtio/mmio_transport.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/virtio_spec.h"
#include "vmm/virtio/vsock.h"

namespace ember::vmm {
namespace {

constexpr uint64_t kQueueNotifyOffset = 0x50;  // virtio-mmio QueueNotify register
constexpr size_t kCrashTailBytes = 4096;       // console tail printed on a crash

int64_t micros_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t)
      .count();
}

// Adds the name of the build step to an error.
template <typename T>
Result<T> in_step(Result<T> r, const char* step) {
  if (r.ok()) return r;
  Error e = r.error();
  e.op = std::string(step) + ": " + e.op;
  return e;
}

}  // namespace

std::vector<VirtioSlotPlan> plan_virtio_slots(const VmmConfig& config) {
  std::vector<VirtioSlotPlan> plan;
  auto next_slot = [&plan] {
    const auto i = static_cast<uint32_t>(plan.size());
    return VirtioMmioSlot{layout::kVirtioMmioBase + i * layout::kVirtioMmioSize,
                          layout::kVirtioMmioSize, layout::kVirtioFirstGsi + i};
  };
  if (config.root) plan.push_back({VirtioSlotPlan::Kind::kBlock, next_slot(), *config.root});
  for (const DiskConfig& disk : config.disks) {
    plan.push_back({VirtioSlotPlan::Kind::kBlock, next_slot(), disk});
  }
  if (!config.vsock_uds.empty()) plan.push_back({VirtioSlotPlan::Kind::kVsock, next_slot(), {}});
  // Last, so adding a network device moves no other device's address or GSI.
  if (config.net_fd >= 0) plan.push_back({VirtioSlotPlan::Kind::kNet, next_slot(), {}});
  return plan;
}

VirtioDeviceState::Kind snapshot_kind(VirtioSlotPlan::Kind kind) {
  switch (kind) {
    case VirtioSlotPlan::Kind::kBlock: return VirtioDeviceState::Kind::kBlock;
    case VirtioSlotPlan::Kind::kVsock: return VirtioDeviceState::Kind::kVsock;
    case VirtioSlotPlan::Kind::kNet: return VirtioDeviceState::Kind::kNet;
  }
  std::abort();
}

Status join_network_namespace(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("open network namespace (--netns)", path);
  if (::setns(fd.get(), CLONE_NEWNET) != 0) {
    return errno_error("join network namespace (--netns)",
                       path + " (it must be a network namespace such as /run/netns/NAME, and "
                              "joining needs CAP_SYS_ADMIN)");
  }
  return {};
}

Result<std::string> kernel_cmdline_for(const VmmConfig& config) {
  CmdlineOptions options;
  options.console = config.console;
  options.has_root = config.root.has_value();
  for (const VirtioSlotPlan& p : plan_virtio_slots(config))
    options.virtio_devices.push_back(p.slot);
  options.extra = config.cmdline_extra;
  return build_kernel_cmdline(options);
}

Result<std::unique_ptr<Vmm>> Vmm::build(const VmmConfig& config) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<Vmm> vmm(new Vmm(config));
  // Each step is timed at debug level: boot latency is a feature.
  auto step = [&vmm](Status (Vmm::*fn)(), const char* name) -> Status {
    const auto start = std::chrono::steady_clock::now();
    Status s = ((*vmm).*fn)();
    if (log_enabled(LogLevel::kDebug)) {
      log_debug(std::string(name) + " took " + std::to_string(micros_since(start)) + " us");
    }
    return s;
  };
  EMBER_CHECK(step(&Vmm::create_vm, "create VM"));
  EMBER_CHECK(step(&Vmm::create_memory, "create memory"));
  EMBER_CHECK(step(&Vmm::attach_legacy_devices, "attach legacy devices"));
  EMBER_CHECK(step(&Vmm::attach_virtio_devices, "attach virtio devices"));
  EMBER_CHECK(step(&Vmm::load_guest, "load guest"));
  EMBER_CHECK(step(&Vmm::create_vcpus, "create vCPUs"));
  EMBER_CHECK(step(&Vmm::start_control_socket, "start control socket"));
  log_debug("VM built in " + std::to_string(micros_since(t0)) + " us");
  return vmm;
}

Vmm::~Vmm() {
  control_.reset();  // it watches fds on loop_
  // Runners join in their destructors (after asking to stop); vCPUs must be gone before
  // the devices and memory they use.
  pause_gate_.release_all();
  runners_.clear();
}

Status Vmm::create_vm() {
  EMBER_TRY(Kvm kvm, Kvm::open());
  kvm_.emplace(std::move(kvm));
  EMBER_TRY(Vm vm, kvm_->create_vm());
  vm_.emplace(std::move(vm));
  EMBER_CHECK(vm_->set_tss_addr(layout::kTssAddr));
  EMBER_CHECK(vm_->set_identity_map_addr(layout::kIdentityMapAddr));
  EMBER_CHECK(vm_->create_irqchip());
  return vm_->create_pit2();
}

Status Vmm::create_memory() {
  EMBER_TRY(GuestMemory memory, GuestMemory::create_anonymous(config_.mem_mib << 20));
  memory_ = std::move(memory);
  EMBER_CHECK(vm_->set_memory(memory_));
  return create_event_loop();
}

Status Vmm::create_event_loop() {
  EMBER_TRY(EventLoop loop, EventLoop::create());
  loop_.emplace(std::move(loop));
  return {};
}

Status Vmm::start_control_socket() {
  if (config_.api_sock.empty()) return {};
  EMBER_TRY(control_, ControlServer::create(config_.api_sock, *loop_, *this));
  return {};
}

Status Vmm::attach_legacy_devices() {
  serial_irq_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!serial_irq_) return errno_error("eventfd", "serial interrupt");
  EMBER_CHECK(vm_->register_irqfd(serial_irq_.get(), layout::kSerialIrq));
  const int irq_fd = serial_irq_.get();
  serial_ = std::make_shared<Serial>(
      [irq_fd] {
        const uint64_t one = 1;
        (void)!::write(irq_fd, &one, sizeof(one));
      },
      config_.console ? STDERR_FILENO : -1);
  i8042_ = std::make_shared<I8042>([this] { on_reset_request(); });

  EMBER_CHECK(pio_bus_.add(layout::kSerialPort, 8, serial_));
  EMBER_CHECK(pio_bus_.add(layout::kI8042DataPort, 5, i8042_));
  // Ports Linux pokes that Ember answers without emulating anything.
  EMBER_CHECK(pio_bus_.add(0x70, 2, std::make_shared<ConstantDevice>(0)));      // CMOS/RTC
  EMBER_CHECK(pio_bus_.add(0x80, 1, std::make_shared<ConstantDevice>(0)));      // POST code
  EMBER_CHECK(pio_bus_.add(0xCF8, 8, std::make_shared<ConstantDevice>(0xFF)));  // PCI config
  return {};
}

void Vmm::on_reset_request() {
  const std::string panic = serial_->panic_line();
  if (!panic.empty()) {
    exit_.request(ExitCode::kGuestCrash, "guest kernel panicked: " + panic);
  } else {
    exit_.request(ExitCode::kGuestShutdown, "guest rebooted");
  }
}

Status Vmm::attach_virtio_mmio(std::shared_ptr<MmioDevice> device, const VirtioMmioSlot& slot,
                               int irq_fd, const std::vector<int>& notify_fds) {
  EMBER_CHECK(mmio_bus_.add(slot.base, slot.size, device));
  EMBER_CHECK(vm_->register_irqfd(irq_fd, slot.gsi));
  for (size_t q = 0; q < notify_fds.size(); ++q) {
    EMBER_CHECK(vm_->register_ioeventfd(slot.base + kQueueNotifyOffset, 4, q, notify_fds[q]));
  }
  return {};
}

Status Vmm::attach_virtio_devices() {
  static_assert(virtio::mmio::kQueueNotify == kQueueNotifyOffset);
  for (const VirtioSlotPlan& plan : plan_virtio_slots(config_)) {
    std::unique_ptr<virtio::VirtioDevice> device;
    if (plan.kind == VirtioSlotPlan::Kind::kBlock) {
      EMBER_TRY(auto block, in_step(virtio::Block::open({plan.disk.path, plan.disk.read_only, {}}),
                                    "attach disk"));
      device = std::move(block);
    } else if (plan.kind == VirtioSlotPlan::Kind::kVsock) {
      EMBER_TRY(auto vsock,
                in_step(virtio::Vsock::create({config_.vsock_cid, config_.vsock_uds}, *loop_),
                        "attach vsock"));
      device = std::move(vsock);
    } else {
      // A copy of our own: the inherited descriptor stays as the parent passed it.
      UniqueFd tap(::fcntl(config_.net_fd, F_DUPFD_CLOEXEC, 3));
      if (!tap) {
        return errno_error("attach network device",
                           "dup --net-fd " + std::to_string(config_.net_fd));
      }
      const std::string label = "--net-fd " + std::to_string(config_.net_fd);
      EMBER_TRY(auto net, in_step(virtio::Net::create(std::move(tap), {config_.net_mac, label},
                                                      *loop_),
                                  "attach network device"));
      log_debug("network device on " +
                (net->is_tap() ? "tap " + net->tap_name() : std::string("a frame socket")) +
                ", MAC " + format_mac(config_.net_mac));
      device = std::move(net);
    }
    EMBER_TRY(std::shared_ptr<virtio::MmioTransport> transport,
              virtio::MmioTransport::create(memory_, *loop_, std::move(device)));
    std::vector<int> notify_fds;
    for (uint16_t q = 0; q < transport->num_queues(); ++q) {
      notify_fds.push_back(transport->queue_notify_fd(q));
    }
    EMBER_CHECK(attach_virtio_mmio(transport, plan.slot, transport->irq_fd(), notify_fds));
    virtio_.push_back({plan, transport});
  }
  return {};
}

Status Vmm::load_guest() {
  EMBER_TRY(LoadedKernel kernel, load_elf_kernel_file(config_.kernel, memory_));
  kernel_entry_ = kernel.entry;
  std::optional<InitrdPlacement> initrd;
  if (!config_.initrd.empty()) {
    EMBER_TRY(InitrdPlacement placed, load_initrd_file(config_.initrd, memory_, kernel.load_end));
    initrd = placed;
  }
  EMBER_TRY(kernel_cmdline_, kernel_cmdline_for(config_));
  log_debug("kernel command line: " + kernel_cmdline_);
  EMBER_CHECK(write_boot_params(memory_, kernel_cmdline_, initrd));
  EMBER_CHECK(write_identity_page_tables(memory_));
  EMBER_CHECK(write_gdt_and_idt(memory_));
  return write_mp_table(memory_, config_.vcpus);
}

Status Vmm::create_vcpus() {
  EMBER_TRY(std::vector<kvm_cpuid_entry2> cpuid, kvm_->supported_cpuid());
  VcpuSetup setup;
  setup.cpu_count = config_.vcpus;
  setup.entry = kernel_entry_;
  setup.tsc_deadline = kvm_->check_extension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
  setup.supported_cpuid = cpuid;
  vcpus_.reserve(config_.vcpus);
  for (uint32_t id = 0; id < config_.vcpus; ++id) {
    EMBER_TRY(Vcpu vcpu, vm_->create_vcpu(id));
    EMBER_CHECK(setup_vcpu(vcpu, setup));
    vcpus_.push_back(std::move(vcpu));
  }
  return {};
}

void Vmm::open_kvm_stats() {
  auto vm = KvmStats::open(vm_->fd());
  if (!vm.ok()) {
    log_debug("no KVM statistics in {\"op\":\"stats\"}: " + vm.error().message());
    return;
  }
  vm_stats_.emplace(std::move(vm).value());
  for (const Vcpu& vcpu : vcpus_) {
    auto stats = KvmStats::open(vcpu.fd());
    if (!stats.ok()) {
      log_debug("no vCPU statistics: " + stats.error().message());
      vcpu_stats_.clear();
      return;
    }
    vcpu_stats_.push_back(std::move(stats).value());
  }
}

ExitCode Vmm::run(const seccomp::ThreadFilters* filters) {
  ::signal(SIGPIPE, SIG_IGN);  // a vanished vsock peer must not kill the VMM
  open_kvm_stats();
  Status s = VcpuRunner::install_kick_handler();
  if (!s.ok()) {
    exit_reason_ = s.error().message();
    return ExitCode::kVmmError;
  }
  exit_.set_stop_hook([this] { loop_->stop(); });
  RunContext ctx;
  ctx.pio = &pio_bus_;
  ctx.mmio = &mmio_bus_;
  ctx.exit = &exit_;
  ctx.panic_line = [serial = serial_] { return serial->panic_line(); };
  ctx.start_time = config_.start_time;
  ctx.pause = &pause_gate_;
  ctx.counters = &exit_counters_;
  ctx.seccomp = filters != nullptr ? &filters->vcpu : nullptr;
  ctx.test_forbidden_syscall = config_.test_forbidden_syscall_on_vcpu;
  for (Vcpu& vcpu : vcpus_) runners_.push_back(std::make_unique<VcpuRunner>(vcpu, ctx));
  if (config_.start_paused) {
    // The runners park before their first KVM_RUN; {"op":"resume"} lets them go.
    pause_gate_.request_pause();
    paused_ = true;
  }
  for (auto& runner : runners_) runner->start();

  // Every thread this process will have now exists (each vCPU loads its own filter), so
  // this one can take the filter that cannot start threads.
  if (filters != nullptr) {
    if (Status loaded = filters->event_loop.load(); !loaded.ok()) {
      exit_.request(ExitCode::kVmmError, "event loop thread: " + loaded.error().message());
    }
  }
  if (config_.lifeline_fd >= 0 && !exit_.requested()) {
    // The parent holds the pipe's only write end and never writes: any event is its end.
    s = loop_->add(config_.lifeline_fd, EPOLLIN, [this](uint32_t) {
      loop_->remove(config_.lifeline_fd);
      exit_.request(ExitCode::kVmmError, "the parent process (emberd) is gone: stopping the VM");
    });
    if (!s.ok()) exit_.request(ExitCode::kVmmError, "lifeline: " + s.error().message());
  }
  if (!exit_.requested()) {
    s = loop_->run();
    if (!s.ok()) exit_.request(ExitCode::kVmmError, "event loop: " + s.error().message());
  }
  pause_gate_.release_all();
  // Every runner has started by now, so every kick reaches its thread.
  for (auto& runner : runners_) runner->kick();
  for (auto& runner : runners_) runner->join();
  exit_reason_ = exit_.reason();
  return exit_.code();
}

ExitCode run(const VmmConfig& config) {
  set_log_level(config.log_level);
  // Every filter is built before any is loaded, so one that cannot be built is reported
  // while nothing is filtered yet (thread_filters.h gives the order of the loads).
  const auto filters_start = std::chrono::steady_clock::now();
  std::optional<seccomp::ThreadFilters> filters;
  if (config.seccomp != seccomp::Mode::kOff) {
    auto built = seccomp::ThreadFilters::build(config.seccomp);
    if (!built.ok()) {
      log_error(built.error().message() + " (--seccomp off runs without filters)");
      return ExitCode::kVmmError;
    }
    filters.emplace(std::move(built).value());
  }
  // First, while this is the only thread: every thread started later inherits it.
  if (!config.netns.empty()) {
    if (Status s = join_network_namespace(config.netns); !s.ok()) {
      log_error(s.error().message());
      return ExitCode::kVmmError;
    }
  }
  const seccomp::ThreadFilters* loaded = filters ? &*filters : nullptr;
  if (loaded != nullptr) {
    if (Status s = loaded->startup.load(); !s.ok()) {
      log_error(s.error().message());
      return ExitCode::kVmmError;
    }
    if (log_enabled(LogLevel::kDebug)) {
      log_debug(std::string("seccomp ") + seccomp::mode_name(config.seccomp) +
                ": filters built and the start-up one loaded in " +
                std::to_string(micros_since(filters_start)) + " us (BPF instructions: start-up " +
                std::to_string(loaded->startup.instructions()) + ", vCPU " +
                std::to_string(loaded->vcpu.instructions()) + ", event loop " +
                std::to_string(loaded->event_loop.instructions()) + ")");
    }
  }
  if (config.standby) return run_standby(config, loaded);
  auto vmm = config.restore_dir.empty() ? Vmm::build(config) : Vmm::restore(config);
  if (!vmm.ok()) {
    log_error(vmm.error().message());
    return ExitCode::kVmmError;
  }
  return run_to_exit(**vmm, config, loaded);
}

ExitCode run_to_exit(Vmm& vmm, const VmmConfig& config, const seccomp::ThreadFilters* filters) {
  const ExitCode code = vmm.run(filters);
  const std::string& reason = vmm.exit_reason();
  switch (code) {
    case ExitCode::kGuestShutdown: log_info("guest shut down: " + reason); break;
    case ExitCode::kGuestCrash: {
      log_error("guest crashed: " + reason);
      if (!config.console) {
        const std::string out = vmm.serial().recent_output();
        const size_t from = out.size() > kCrashTailBytes ? out.size() - kCrashTailBytes : 0;
        log_error("last guest console output:\n" + out.substr(from));
      }
      break;
    }
    default: log_error(reason); break;
  }
  return code;
}

}  // namespace ember::vmm
