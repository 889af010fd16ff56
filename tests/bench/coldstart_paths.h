// ColdstartPaths: the three ways a request reaches the initialized Python runtime, timed.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "host/pool.h"
#include "host/restored_vm.h"
#include "host/standby_vmm.h"
#include "host/runtime/booted_vm.h"
#include "tests/bench/bench_function.h"
#include "tests/bench/coldstart_config.h"
#include "tests/bench/vm_counts.h"

namespace ember::bench {

// One request -> response through one path, in milliseconds on the host's steady clock.
struct Sample {
  // (a) spawn -> agent Ready; (b) restore request to a standby VMM -> RefreshAck;
  // (c) acquire()
  double ready_ms = 0;
  double init_ms = 0;    // (a) only: InitRuntime sent -> InitResult received
  double invoke_ms = 0;  // Invoke sent -> InvokeResult received
  double total_ms = 0;   // the request is there -> its response is (all of the above)
  // (b) only, after total_ms: a second invocation on the same clone. Not part of the path;
  // it shows what the first one paid for touching the snapshot's memory.
  double invoke_again_ms = 0;
  // (b), (w) and (c): what the clone's VMM counted during the first invocation and the second.
  VmCounts first_counts, again_counts;
  // (c) only: the KVM faults its VMM had fixed when the agent's prefetch was done (restore
  // included), before the first invocation.
  uint64_t prefetched_pages = 0;
};

// An `ember-vmm --standby [extra_args]` that listens on its api socket (so is waiting for
// its request).
Result<host::SpawnedVmm> spawn_listening_standby(const std::string& vmm, const std::string& run_dir,
                                                 const std::vector<std::string>& extra_args = {});

class ColdstartPaths {
 public:
  // VM sockets go under run_dir; the init snapshot is written to snapshot_dir.
  ColdstartPaths(const ColdstartConfig& config, const BenchFunction& function, std::string run_dir,
                 std::string snapshot_dir);

  // A VM booted from the kernel, its runtime initialized; fills sample's ready and init.
  Result<std::unique_ptr<host::BootedVm>> boot_and_init(Sample& sample) const;
  // A clone of the init snapshot restored by a standby VMM (started and listening first,
  // untimed, as emberd keeps them), refreshed; fills sample's ready.
  Result<std::unique_ptr<host::RestoredVm>> restore(Sample& sample) const;
  // Invocation n on vm; fills sample's invoke. Fails unless the response echoes n's event.
  Status invoke(host::PooledVm& vm, uint32_t n, Sample& sample) const;

  // Boots and initializes a VM and snapshots it once init is done (the runtime waits for its
  // first invocation), as emberd does on a function's first cold start. The VM is destroyed
  // after; sample gets its boot and init times.
  Status make_snapshot(Sample& sample) const;

  // The three paths, one request -> response each; their VMs are destroyed after.
  Result<Sample> boot_path(uint32_t n) const;
  // (b) without a working set; the first such run records one, kept aside. (w), with
  // with_working_set: the same with that working set installed by the restore.
  Result<Sample> restore_path(uint32_t n, bool with_working_set = false) const;
  // Puts the working set path (b) recorded where ember-vmm installs it from (on), or takes
  // it away again (off); restores in between install it. Fails when (b) recorded none.
  Status install_working_set(bool on) const;
  // Waits (untimed) until the pool holds one ready VM, restored with the working set, then
  // times acquire() + invoke; before the invocation it waits (untimed) until the agent's
  // working-set prefetch is done, as a VM that waited in the pool would have. The
  // pool must come from make_pool(): its memory cap of one VM keeps it from refilling while
  // the lease is out, and its target is set back to 0 before the VM is given back, so no
  // background restore overlaps a measurement.
  Result<Sample> pool_path(host::VmPool& pool, uint32_t n) const;
  std::unique_ptr<host::VmPool> make_pool() const;

  host::SnapshotSpec snapshot_spec() const;
  host::RestoredVmOptions restore_options() const;

 private:
  const ColdstartConfig& config_;
  const BenchFunction& function_;
  const std::string run_dir_;
  const std::string snapshot_dir_;
};

}  // namespace ember::bench
