// ColdstartPaths: boot + init, restore, and pool acquire, each followed by one invocation.
#include "tests/bench/coldstart_paths.h"

#include <unistd.h>

#include <chrono>

#include "common/working_set.h"
#include "host/snapshot_working_set.h"
#include "tests/bench/bench_report.h"

namespace ember::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Generous: inside the emulated KVM test host a boot takes seconds and Python's init more.
constexpr milliseconds kBootTimeout = seconds(180);
constexpr milliseconds kInitTimeout = seconds(310);  // the request's own limit plus slack
constexpr milliseconds kInvokeTimeout = seconds(60);
constexpr milliseconds kRestoreTimeout = seconds(120);
// Numbers the second invocation on a clone apart from the paths' own.
constexpr uint32_t kAgainOffset = 1'000'000;

double ms_since(Clock::time_point from) {
  return std::chrono::duration<double, std::milli>(Clock::now() - from).count();
}

}  // namespace

Result<host::SpawnedVmm> spawn_listening_standby(const std::string& vmm, const std::string& run_dir,
                                                 const std::vector<std::string>& extra_args) {
  EMBER_TRY(host::SpawnedVmm standby, host::spawn_standby_vmm(vmm, run_dir, {}, extra_args));
  const auto deadline = Clock::now() + kRestoreTimeout;
  while (::access(standby.files.api_sock.c_str(), F_OK) != 0) {
    auto exited = standby.process.wait_for(milliseconds(5));
    if (exited.ok() && exited->has_value()) {
      return make_error("start a standby VMM", "ember-vmm --standby exited: " +
                                                   standby.process.stderr_output(4096));
    }
    if (Clock::now() > deadline) return make_error("start a standby VMM", "it never listened");
  }
  return standby;
}

ColdstartPaths::ColdstartPaths(const ColdstartConfig& config, const BenchFunction& function,
                               std::string run_dir, std::string snapshot_dir)
    : config_(config),
      function_(function),
      run_dir_(std::move(run_dir)),
      snapshot_dir_(std::move(snapshot_dir)) {}

host::SnapshotSpec ColdstartPaths::snapshot_spec() const {
  // No disks given: clones attach the snapshot's own root and code images, read-only.
  return host::SnapshotSpec{snapshot_dir_, config_.mem_mib, {}};
}

host::RestoredVmOptions ColdstartPaths::restore_options() const {
  host::RestoredVmOptions options;
  options.vmm_path = config_.vmm;
  options.run_dir = run_dir_;
  options.ready_timeout = kRestoreTimeout;
  return options;
}

Result<std::unique_ptr<host::BootedVm>> ColdstartPaths::boot_and_init(Sample& sample) const {
  host::BootSpec spec;
  spec.vmm_path = config_.vmm;
  spec.kernel = config_.kernel;
  spec.rootfs = config_.rootfs;
  spec.initramfs = config_.initramfs;
  spec.code_image = function_.code_image();
  spec.memory_mb = config_.mem_mib;
  spec.vcpus = 1;
  spec.run_dir = run_dir_;
  spec.ready_timeout = kBootTimeout;
  const auto t0 = Clock::now();
  EMBER_TRY(std::unique_ptr<host::BootedVm> vm, host::BootedVm::boot(spec));
  sample.ready_ms = ms_since(t0);

  const auto t1 = Clock::now();
  EMBER_TRY(InitResult init, vm->agent().init_runtime(function_.init_request(), kInitTimeout));
  sample.init_ms = ms_since(t1);
  if (!init.ok) {
    return make_error("python3.11 init",
                      init.error_type + ": " + init.error_body + "; runtime output: " + init.logs);
  }
  return vm;
}

Result<std::unique_ptr<host::RestoredVm>> ColdstartPaths::restore(Sample& sample) const {
  EMBER_TRY(host::SpawnedVmm standby, spawn_listening_standby(config_.vmm, run_dir_));
  const auto t0 = Clock::now();
  EMBER_TRY(std::unique_ptr<host::RestoredVm> vm,
            host::RestoredVm::restore_on(std::move(standby), snapshot_spec(), restore_options()));
  sample.ready_ms = ms_since(t0);
  return vm;
}

Status ColdstartPaths::invoke(host::PooledVm& vm, uint32_t n, Sample& sample) const {
  const Invoke request = function_.invoke_request(n);
  const auto t0 = Clock::now();
  EMBER_TRY(InvokeResult result, vm.agent().invoke(request, kInvokeTimeout));
  sample.invoke_ms = ms_since(t0);
  return BenchFunction::check_response(result, n);
}

Status ColdstartPaths::make_snapshot(Sample& sample) const {
  EMBER_TRY(std::unique_ptr<host::BootedVm> vm, boot_and_init(sample));
  return vm->snapshot(snapshot_dir_);
}

Result<Sample> ColdstartPaths::boot_path(uint32_t n) const {
  Sample sample;
  const auto t0 = Clock::now();
  EMBER_TRY(std::unique_ptr<host::BootedVm> vm, boot_and_init(sample));
  EMBER_CHECK(invoke(*vm, n, sample));
  sample.total_ms = ms_since(t0);
  return sample;
}

Status ColdstartPaths::install_working_set(bool on) const {
  // ember-vmm installs <snapshot>/working_set when it is there; (b) keeps it aside.
  const std::string installed = snapshot_dir_ + "/" + kWorkingSetFile;
  const std::string kept = installed + ".recorded";
  ::unlink(installed.c_str());
  if (on && ::link(kept.c_str(), installed.c_str()) != 0) {
    return errno_error("install the working set", "none recorded by path (b): " + kept);
  }
  return {};
}

Result<Sample> ColdstartPaths::restore_path(uint32_t n, bool with_working_set) const {
  const std::string installed = snapshot_dir_ + "/" + kWorkingSetFile;
  const std::string kept = installed + ".recorded";
  EMBER_CHECK(install_working_set(with_working_set));
  Sample sample;
  auto vm = restore(sample);
  EMBER_CHECK(install_working_set(false));
  if (!vm.ok()) return vm.error();
  // The counts are read between the timed steps, so total_ms is their sum.
  EMBER_TRY(VmCounts restored, read_vm_counts((*vm)->api_socket()));
  EMBER_CHECK(invoke(**vm, n, sample));
  sample.total_ms = sample.ready_ms + sample.invoke_ms;
  EMBER_TRY(VmCounts first, read_vm_counts((*vm)->api_socket()));
  if (!with_working_set && ::access(kept.c_str(), F_OK) != 0) {
    EMBER_TRY(uint64_t pages, host::record_snapshot_working_set((*vm)->process().pid(),
                                                                snapshot_dir_));
    if (::rename(installed.c_str(), kept.c_str()) != 0) return errno_error("rename", installed);
    progress("working set recorded after (b)'s first invocation: " + std::to_string(pages) +
             " pages");
  }
  Sample again;
  EMBER_CHECK(invoke(**vm, n + kAgainOffset, again));
  sample.invoke_again_ms = again.invoke_ms;
  EMBER_TRY(VmCounts second, read_vm_counts((*vm)->api_socket()));
  sample.first_counts = counts_between(restored, first);
  sample.again_counts = counts_between(first, second);
  return sample;
}

std::unique_ptr<host::VmPool> ColdstartPaths::make_pool() const {
  host::PoolOptions options;
  options.default_ready = 0;
  options.max_mem_mib = config_.mem_mib;  // room for exactly one VM
  options.idle_timeout = std::chrono::hours(24);
  return std::make_unique<host::VmPool>(
      std::make_unique<host::RestoredVmFactory>(restore_options()), options);
}

Result<Sample> ColdstartPaths::pool_path(host::VmPool& pool, uint32_t n) const {
  const host::SnapshotSpec spec = snapshot_spec();
  pool.ensure(spec, 1);
  const auto deadline = Clock::now() + 2 * kRestoreTimeout;
  while (!pool.wait_ready(spec.dir, 1, seconds(1))) {
    const host::SnapshotPoolStats stats = pool.stats().snapshots[spec.dir];
    if (stats.consecutive_failures >= 2 || Clock::now() > deadline) {
      pool.ensure(spec, 0);
      return make_error("pool refill", "no ready VM: " + stats.last_error);
    }
  }

  Sample sample;
  const auto t0 = Clock::now();
  EMBER_TRY(host::Lease lease, pool.acquire(spec));
  sample.ready_ms = ms_since(t0);
  pool.ensure(spec, 0);  // after this lease, nothing is restored in the background
  if (!lease.hit()) return make_error("pool acquire", "restored on demand instead of a ready VM");
  EMBER_CHECK(invoke(lease.vm(), n, sample));
  sample.total_ms = ms_since(t0);
  return sample;
}

}  // namespace ember::bench
