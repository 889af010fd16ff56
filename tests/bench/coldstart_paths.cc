// ColdstartPaths: boot + init, restore, and pool acquire, each followed by one invocation.
#include "tests/bench/coldstart_paths.h"

#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

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

// How the working set file at path spreads over the guest's memory: pages read and written,
// and the 2 MiB regions holding them (what huge pages would map in one fault each).
std::string describe_working_set(const std::string& path, uint64_t memory_pages) {
  auto runs = read_working_set(path, memory_pages);
  if (!runs.ok()) return "unreadable: " + runs.error().message();
  constexpr uint64_t kPagesPer2M = (2u << 20) / kWorkingSetPageSize;
  uint64_t read = 0, written = 0;
  std::set<uint64_t> regions, written_regions;
  for (const PageRun& r : *runs) {
    (r.written ? written : read) += r.pages;
    for (uint64_t p = r.first_page; p < r.first_page + r.pages; ++p) {
      regions.insert(p / kPagesPer2M);
      if (r.written) written_regions.insert(p / kPagesPer2M);
    }
  }
  return std::to_string(read) + " read and " + std::to_string(written) + " written, in " +
         std::to_string(runs->size()) + " runs over " + std::to_string(regions.size()) + " of " +
         std::to_string((memory_pages + kPagesPer2M - 1) / kPagesPer2M) + " 2 MiB regions (" +
         std::to_string(written_regions.size()) + " with written pages)";
}

uint64_t count_of(const VmCounts& counts, const std::string& name) {
  const auto it = counts.find(name);
  return it == counts.end() ? 0 : it->second;
}

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
             " pages; " +
             describe_working_set(kept, (uint64_t{config_.mem_mib} << 20) / kWorkingSetPageSize) +
             "; KVM fixed " +
             std::to_string(count_of(restored, "kvm.vcpus.pf_fixed")) +
             " faults during the restore and " +
             std::to_string(count_of(counts_between(restored, first), "kvm.vcpus.pf_fixed")) +
             " in the invocation");
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

// Waits until the VMM behind api_sock has counted no new KVM page fault for a second (its
// agent's working-set prefetch is done), at most kPrefetchSettle; returns its counts then.
Result<VmCounts> wait_for_still_faults(const std::string& api_sock) {
  constexpr milliseconds kPoll(500), kPrefetchSettle = seconds(120);
  const auto deadline = Clock::now() + kPrefetchSettle;
  EMBER_TRY(VmCounts last, read_vm_counts(api_sock));
  for (int still = 0; still < 2 && Clock::now() < deadline;) {
    std::this_thread::sleep_for(kPoll);
    EMBER_TRY(VmCounts now, read_vm_counts(api_sock));
    still = count_of(now, "kvm.vcpus.pf_taken") == count_of(last, "kvm.vcpus.pf_taken") ? still + 1
                                                                                        : 0;
    last = std::move(now);
  }
  return last;
}

Result<Sample> ColdstartPaths::pool_path(host::VmPool& pool, uint32_t n) const {
  const host::SnapshotSpec spec = snapshot_spec();
  // The pool's restores install the working set and send it to the agent to prefetch.
  EMBER_CHECK(install_working_set(true));
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
  EMBER_CHECK(install_working_set(false));
  if (!lease.hit()) return make_error("pool acquire", "restored on demand instead of a ready VM");
  auto* vm = dynamic_cast<host::RestoredVm*>(&lease.vm());
  if (vm == nullptr) return make_error("pool acquire", "the pool's VM is no RestoredVm");
  // Untimed, as if it had waited in the pool that long: until its prefetch is done.
  EMBER_TRY(VmCounts ready, wait_for_still_faults(vm->api_socket()));
  EMBER_CHECK(invoke(*vm, n, sample));
  sample.total_ms = sample.ready_ms + sample.invoke_ms;
  EMBER_TRY(VmCounts first, read_vm_counts(vm->api_socket()));
  Sample again;
  EMBER_CHECK(invoke(*vm, n + kAgainOffset, again));
  sample.invoke_again_ms = again.invoke_ms;
  EMBER_TRY(VmCounts second, read_vm_counts(vm->api_socket()));
  sample.prefetched_pages = count_of(ready, "kvm.vcpus.pf_fixed");
  sample.first_counts = counts_between(ready, first);
  sample.again_counts = counts_between(first, second);
  return sample;
}

}  // namespace ember::bench
