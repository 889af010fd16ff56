// VcpuRunner: the KVM_RUN loop and exit dispatch.
#include "vmm/vcpu_runner.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstring>

#include "vmm/logger.h"
#include "vmm/seccomp/thread_filters.h"

namespace ember::vmm {
namespace {

// The kvm_run of the vCPU running on this thread, for the kick signal handler.
thread_local kvm_run* t_current_run = nullptr;

int kick_signal() { return SIGRTMIN; }

void on_kick(int) {
  // Async-signal-safe: one store to shared memory KVM checks on entry.
  if (t_current_run != nullptr) t_current_run->immediate_exit = 1;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

void ExitRequest::set_stop_hook(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  hook_ = std::move(hook);
}

void ExitRequest::request(ExitCode code, std::string reason) {
  std::function<void()> hook;
  {
    std::lock_guard lock(mu_);
    if (requested_.load(std::memory_order_relaxed)) return;
    code_ = code;
    reason_ = std::move(reason);
    requested_.store(true, std::memory_order_release);
    hook = hook_;
  }
  if (hook) hook();
}

ExitCode ExitRequest::code() const {
  std::lock_guard lock(mu_);
  return code_;
}

std::string ExitRequest::reason() const {
  std::lock_guard lock(mu_);
  return reason_;
}

void PauseGate::request_pause() {
  std::lock_guard lock(mu_);
  pause_.store(true, std::memory_order_release);
}

void PauseGate::resume() {
  std::lock_guard lock(mu_);
  pause_.store(false, std::memory_order_release);
  cv_.notify_all();
}

void PauseGate::release_all() {
  std::lock_guard lock(mu_);
  released_ = true;
  cv_.notify_all();
}

bool PauseGate::wait_parked(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return parked_ >= count || released_; }) &&
         parked_ >= count;
}

void PauseGate::park() {
  std::unique_lock lock(mu_);
  ++parked_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return !pause_.load(std::memory_order_relaxed) || released_; });
  --parked_;
}

VcpuRunner::~VcpuRunner() {
  if (thread_.joinable()) {
    ctx_.exit->request(ExitCode::kVmmError, "VMM torn down while vCPUs ran");
    if (ctx_.pause != nullptr) ctx_.pause->release_all();
    kick();
    thread_.join();
  }
}

Status VcpuRunner::install_kick_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_kick;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must come back with EINTR
  if (::sigaction(kick_signal(), &sa, nullptr) < 0) return errno_error("sigaction", "vCPU kick");
  return {};
}

void VcpuRunner::start() {
  thread_ = std::thread([this] { thread_main(); });
}

void VcpuRunner::kick() {
  if (thread_.joinable()) ::pthread_kill(thread_.native_handle(), kick_signal());
}

void VcpuRunner::join() {
  if (thread_.joinable()) thread_.join();
}

void VcpuRunner::thread_main() {
  char name[16];
  std::snprintf(name, sizeof(name), "vcpu%u", vcpu_.id());
  ::pthread_setname_np(::pthread_self(), name);
  // Before anything the guest controls: this thread's filter on top of the start-up one
  // it inherited (thread_filters.h).
  if (ctx_.seccomp != nullptr) {
    if (Status s = ctx_.seccomp->load(); !s.ok()) {
      fail(ExitCode::kVmmError, "vcpu " + std::to_string(vcpu_.id()) + ": " + s.error().message());
      return;
    }
  }
  if (ctx_.test_forbidden_syscall && vcpu_.id() == 0) seccomp::make_forbidden_vcpu_syscall();
  t_current_run = vcpu_.run_data();
  bool first = true;
  // A kick after this check sets immediate_exit, so KVM_RUN returns at once.
  while (!ctx_.exit->requested()) {
    if (ctx_.pause != nullptr && ctx_.pause->pause_requested()) {
      park();
      continue;
    }
    if (first && vcpu_.id() == 0) {
      // steady_clock is CLOCK_MONOTONIC: the absolute value lets a benchmark measure from
      // its own exec() of the VMM, dynamic loading included.
      const auto now = std::chrono::steady_clock::now();
      const auto us =
          std::chrono::duration_cast<std::chrono::microseconds>(now - ctx_.start_time).count();
      const auto mono_ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
      log_info("first KVM_RUN after " + std::to_string(us) + " us (monotonic " +
               std::to_string(mono_ns) + " ns)");
    }
    first = false;
    Status s = vcpu_.run();
    if (!s.ok()) {
      if (s.error().code == EINTR || s.error().code == EAGAIN) {
        vcpu_.set_immediate_exit(false);
        continue;
      }
      fail(ExitCode::kVmmError, s.error().message());
      break;
    }
    if (!handle_exit()) break;
  }
  t_current_run = nullptr;
}

void VcpuRunner::park() {
  // KVM finishes an emulated PIO/MMIO instruction only on the next KVM_RUN: enter once with
  // immediate_exit set so the saved registers are past it, then wait.
  vcpu_.set_immediate_exit(true);
  Status s = vcpu_.run();
  if (!s.ok() && s.error().code != EINTR && s.error().code != EAGAIN) {
    fail(ExitCode::kVmmError, s.error().message());
  }
  vcpu_.set_immediate_exit(false);
  ctx_.pause->park();
}

bool VcpuRunner::fail(ExitCode code, std::string reason) {
  ctx_.exit->request(code, std::move(reason));
  return false;
}

std::string VcpuRunner::describe_state() const {
  auto regs = vcpu_.get_regs();
  if (!regs.ok()) return "vcpu " + std::to_string(vcpu_.id());
  return "vcpu " + std::to_string(vcpu_.id()) + " rip " + hex(regs->rip) + " rsp " + hex(regs->rsp);
}

bool VcpuRunner::handle_exit() {
  kvm_run& run = *vcpu_.run_data();
  if (ExitCounters* c = ctx_.counters) {
    auto& counter = run.exit_reason == KVM_EXIT_IO              ? c->io
                    : run.exit_reason == KVM_EXIT_MMIO          ? c->mmio
                    : run.exit_reason == KVM_EXIT_INTR          ? c->intr
                    : run.exit_reason == KVM_EXIT_HLT           ? c->hlt
                    : run.exit_reason == KVM_EXIT_SHUTDOWN      ? c->shutdown
                    : run.exit_reason == KVM_EXIT_SYSTEM_EVENT  ? c->system_event
                                                                : c->other;
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  switch (run.exit_reason) {
    case KVM_EXIT_IO: return handle_io(run);
    case KVM_EXIT_MMIO: return handle_mmio(run);
    case KVM_EXIT_INTR: return true;
    case KVM_EXIT_HLT:
      // Only without an in-kernel LAPIC: nothing could ever wake the vCPU again.
      return fail(ExitCode::kGuestShutdown, "guest halted (" + describe_state() + ")");
    case KVM_EXIT_SHUTDOWN: {
      std::string reason = "guest triple fault (" + describe_state() + ")";
      const std::string panic = ctx_.panic_line ? ctx_.panic_line() : std::string();
      if (!panic.empty()) reason += " after: " + panic;
      return fail(ExitCode::kGuestCrash, reason);
    }
    case KVM_EXIT_SYSTEM_EVENT:
      if (run.system_event.type == KVM_SYSTEM_EVENT_CRASH) {
        return fail(ExitCode::kGuestCrash, "guest reported a crash");
      }
      return fail(ExitCode::kGuestShutdown,
                  "guest system event " + std::to_string(run.system_event.type));
    case KVM_EXIT_FAIL_ENTRY:
      return fail(ExitCode::kVmmError, "KVM_EXIT_FAIL_ENTRY: hardware entry failure reason " +
                                           hex(run.fail_entry.hardware_entry_failure_reason) +
                                           " on cpu " + std::to_string(run.fail_entry.cpu) + " (" +
                                           describe_state() + ")");
    case KVM_EXIT_INTERNAL_ERROR: {
      std::string reason = "KVM_EXIT_INTERNAL_ERROR: suberror " +
                           std::to_string(run.internal.suberror) + " (" + describe_state() + ")";
      const uint32_t n = std::min<uint32_t>(run.internal.ndata, 16);
      for (uint32_t i = 0; i < n; ++i) reason += " " + hex(run.internal.data[i]);
      return fail(ExitCode::kVmmError, reason);
    }
    default:
      return fail(ExitCode::kVmmError, "unexpected KVM exit reason " +
                                           std::to_string(run.exit_reason) + " (" +
                                           describe_state() + ")");
  }
}

bool VcpuRunner::handle_io(kvm_run& run) {
  const auto& io = run.io;
  if (io.size != 1 && io.size != 2 && io.size != 4) {
    return fail(ExitCode::kVmmError, "KVM_EXIT_IO with bad size " + std::to_string(io.size));
  }
  const uint64_t bytes = uint64_t{io.size} * io.count;
  if (io.data_offset > vcpu_.run_size() || bytes > vcpu_.run_size() - io.data_offset) {
    return fail(ExitCode::kVmmError, "KVM_EXIT_IO data outside kvm_run (offset " +
                                         hex(io.data_offset) + ", " + std::to_string(bytes) +
                                         " bytes)");
  }
  uint8_t* data = reinterpret_cast<uint8_t*>(&run) + io.data_offset;
  for (uint32_t i = 0; i < io.count; ++i) {
    uint8_t* item = data + uint64_t{i} * io.size;
    if (io.direction == KVM_EXIT_IO_OUT) {
      if (!ctx_.pio->write(io.port, {item, io.size}) && log_enabled(LogLevel::kDebug)) {
        log_debug("write to unhandled port " + hex(io.port));
      }
    } else if (!ctx_.pio->read(io.port, {item, io.size})) {
      std::memset(item, 0, io.size);
    }
  }
  return !ctx_.exit->requested();
}

bool VcpuRunner::handle_mmio(kvm_run& run) {
  auto& mmio = run.mmio;
  if (mmio.len == 0 || mmio.len > sizeof(mmio.data)) {
    return fail(ExitCode::kVmmError, "KVM_EXIT_MMIO with bad length " + std::to_string(mmio.len));
  }
  std::span<uint8_t> data(mmio.data, mmio.len);
  if (mmio.is_write) {
    if (!ctx_.mmio->write(mmio.phys_addr, data) && log_enabled(LogLevel::kDebug)) {
      log_debug("write to unhandled MMIO address " + hex(mmio.phys_addr));
    }
  } else if (!ctx_.mmio->read(mmio.phys_addr, data)) {
    std::memset(data.data(), 0, data.size());
    if (log_enabled(LogLevel::kDebug))
      log_debug("read of unhandled MMIO address " + hex(mmio.phys_addr));
  }
  return !ctx_.exit->requested();
}

}  // namespace ember::vmm
