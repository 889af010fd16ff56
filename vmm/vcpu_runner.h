// VcpuRunner: a vCPU thread (KVM_RUN, exit dispatch); ExitRequest: how the VM ended.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "vmm/devices/io_bus.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/vmm_config.h"

namespace ember::vmm {

namespace seccomp {
class Program;
}

// The first request wins; later ones are ignored. Thread-safe.
class ExitRequest {
 public:
  // Called once, by the first request, on the requesting thread (must not block).
  void set_stop_hook(std::function<void()> hook);
  void request(ExitCode code, std::string reason);
  bool requested() const { return requested_.load(std::memory_order_acquire); }
  ExitCode code() const;
  std::string reason() const;

 private:
  std::atomic<bool> requested_{false};
  mutable std::mutex mu_;
  ExitCode code_ = ExitCode::kGuestShutdown;
  std::string reason_;
  std::function<void()> hook_;
};

// Pause/resume of every vCPU thread. The controller calls request_pause(), kicks the
// runners and waits in wait_parked(); each runner parks at the top of its loop (after
// finishing any emulated I/O) until resume() or release_all(). Thread-safe.
class PauseGate {
 public:
  void request_pause();
  void resume();
  // Wakes every parked runner for good (the VM is ending).
  void release_all();
  bool pause_requested() const { return pause_.load(std::memory_order_acquire); }
  // Blocks until `count` runners are parked or `timeout` passes; true when all parked.
  bool wait_parked(size_t count, std::chrono::milliseconds timeout);

  // Runner side: parks while a pause is requested (and not released).
  void park();

 private:
  std::atomic<bool> pause_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  size_t parked_ = 0;
  bool released_ = false;
};

// VM exit counts by reason, for the control socket's stats. Relaxed atomics.
struct ExitCounters {
  std::atomic<uint64_t> io{0}, mmio{0}, intr{0}, hlt{0}, shutdown{0}, system_event{0}, other{0};
};

struct RunContext {
  const IoBus* pio = nullptr;
  const IoBus* mmio = nullptr;
  ExitRequest* exit = nullptr;
  // The panic line seen on the serial console so far ("" if none); may be empty.
  std::function<std::string()> panic_line;
  std::chrono::steady_clock::time_point start_time{};
  PauseGate* pause = nullptr;        // may be null: never paused
  ExitCounters* counters = nullptr;  // may be null: not counted
  // Loaded by each vCPU thread before its first KVM_RUN; null: none (--seccomp off, tests).
  const seccomp::Program* seccomp = nullptr;
  // --test-forbidden-syscall-on-vcpu: vCPU 0 makes a call its filter forbids, once loaded.
  bool test_forbidden_syscall = false;
};

class VcpuRunner {
 public:
  VcpuRunner(Vcpu& vcpu, RunContext context) : vcpu_(vcpu), ctx_(std::move(context)) {}
  ~VcpuRunner();
  VcpuRunner(const VcpuRunner&) = delete;
  VcpuRunner& operator=(const VcpuRunner&) = delete;

  // Installs the (no-op, non-restarting) handler of the signal kick() sends. Call once
  // before starting any runner.
  static Status install_kick_handler();

  // Starts the thread: KVM_RUN until the ExitRequest is set or this vCPU fails.
  void start();
  // Makes a vCPU in (or about to enter) KVM_RUN return to user space at once. Call only
  // after request() on the ExitRequest or request_pause() on the PauseGate, from a thread
  // other than this runner's.
  void kick();
  void join();

  // Handles the exit described by the vCPU's kvm_run. Returns false when the vCPU must
  // stop (the ExitRequest is then set). Public so tests can feed fabricated exits.
  bool handle_exit();

 private:
  void thread_main();
  bool handle_io(kvm_run& run);
  bool handle_mmio(kvm_run& run);
  std::string describe_state() const;
  bool fail(ExitCode code, std::string reason);
  void park();

  Vcpu& vcpu_;
  RunContext ctx_;
  std::thread thread_;
};

}  // namespace ember::vmm
