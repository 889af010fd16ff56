// VmInvoker: runs invocations in microVMs. The first cold start of a function revision
// boots a VM, initializes the runtime and snapshots it; later cold starts restore that
// snapshot through the ready pool; a VM that served an invocation stays warm for the next, in
// the pool, which owns every idle VM.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "host/agent_replies.h"
#include "host/api/invoker.h"
#include "host/jail/vm_jail.h"
#include "host/pool.h"
#include "host/runtime/booted_vm.h"
#include "host/vm_cgroup.h"

namespace ember::host {

struct VmInvokerOptions {
  // A warm environment not used for this long is destroyed (PoolOptions::idle_timeout).
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
  // Restored VMs kept ready per function snapshot.
  size_t ready_per_function = 1;
  // The runtime's init phase (Lambda allows 10 s; emulated test hosts are slower).
  std::chrono::milliseconds init_timeout{std::chrono::seconds(30)};
  std::string cgroup_root = "/sys/fs/cgroup";
};

class VmInvoker : public Invoker {
 public:
  // Checks the guest artifacts exist; sets up cgroups when the host has cgroup v2 (else
  // logs why limits beyond guest RAM are not enforced).
  static Result<std::unique_ptr<VmInvoker>> create(const InvokerConfig& config,
                                                   VmInvokerOptions options = {});
  ~VmInvoker() override;

  // invoke_async(), waiting for its result.
  Result<InvokeOutcome> invoke(const InvokeRequest& request) override;
  // Takes a warm VM or makes one (a cold start runs on this thread), sends it the Invoke,
  // and returns: the answer is awaited without a thread (AgentReplies), and done is called
  // on a finishing thread once the VM is back in the pool.
  void invoke_async(InvokeRequest request, InvokeDone done) override;
  void retire(const std::string& function_name) override;
  void shutdown() override;

 private:
  // One VM serving one invocation of a function revision: leased from the pool (warm,
  // ready or restored on demand), or booted and adopted into it.
  struct Environment {
    explicit Environment(Lease vm_lease) : lease(std::move(vm_lease)) {}
    Lease lease;
    // > 0: the VM's cgroup has no CPU quota until its first invocation ends, then
    // gets this share (see VmInvoker::limit).
    double cpus_after_first = 0;
    // A clone's first invocation records its snapshot's working set.
    bool first_after_restore = false;
    PooledVm& vm() { return lease.vm(); }
  };
  using EnvPtr = std::unique_ptr<Environment>;
  struct FunctionState {
    std::string revision;       // the revision the snapshot and the pool's VMs are for
    bool snapshotting = false;  // a boot-and-init for `revision` is in progress
  };
  struct ColdStart {
    EnvPtr env;
    InvokeTiming timing;
    std::string init_logs;
    std::optional<InvokeOutcome> init_failure;  // the runtime failed its init
  };

  // An invocation sent to its VM: what finishing it needs.
  struct Running {
    InvokeRequest request;  // without its payload once sent
    ColdStart cold;
    std::optional<ForegroundGate::Scope> foreground;  // a cold start's, held to its end
    std::chrono::steady_clock::time_point handler_start;
    InvokeDone done;
  };

  VmInvoker(const InvokerConfig& config, VmInvokerOptions options, bool cgroups,
            std::shared_ptr<jail::VmJails> jails);

  std::string snapshot_dir(const std::string& function, const std::string& revision) const;
  // The function's most recently used warm VM, if any; first, a changed revision's old VMs
  // and snapshot are given up.
  EnvPtr take_warm(const FunctionSpec& fn);
  // Restores the revision's snapshot, or boots, inits and snapshots it when it has none. A
  // snapshot that cannot be restored (corrupted on disk, say) is removed and, once per
  // call, the revision boots and snapshots again: the caller sees a slower start only.
  Result<ColdStart> cold_start(const InvokeRequest& request, bool may_rebuild = true);
  Result<ColdStart> boot_and_init(const InvokeRequest& request);
  Result<ColdStart> restore(const FunctionSpec& fn);
  void limit(Environment& env, const FunctionSpec& fn);
  // Whether fn's revision is still the function's (not retired); mu_ held.
  bool current(const FunctionSpec& fn) const;
  // After a restored VM's first invocation: records its snapshot's working set, unless the
  // snapshot has one (host/snapshot_working_set.h).
  void record_working_set(const FunctionSpec& fn, Environment& env);
  // The function's own egress policy, else emberd's default.
  Result<net::EgressPolicy> egress_policy(const FunctionSpec& fn) const;
  // The disks a restore of fn's snapshot names (jailed only; else the snapshot's own).
  std::vector<std::string> snapshot_disks(const FunctionSpec& fn) const;
  // What restoring fn's current revision takes (egress_policy included).
  Result<SnapshotSpec> snapshot_spec(const FunctionSpec& fn) const;
  // The rest of an invocation once its VM answered (or did not): the outcome, the VM kept
  // warm or destroyed, then run->done.
  void finish(const std::shared_ptr<Running>& run, Result<InvokeResult> result);
  // Keeps the healthy VM warm in the pool (destroyed instead once shutdown began).
  void give_back(EnvPtr env);

  const InvokerConfig config_;
  const VmInvokerOptions options_;
  // Where every VMM gets its cgroup; empty when VMMs run without cgroups here.
  const std::string vmm_cgroup_root_;
  const std::shared_ptr<jail::VmJails> jails_;  // null: VMMs run unjailed
  // Held by every cold start: the pool's and the standby stock's refills wait behind it.
  const std::shared_ptr<ForegroundGate> gate_ = std::make_shared<ForegroundGate>();
  VmPool pool_;
  // Finish invocations whose VMs answered (the outcome, the working set, the pool); they
  // and the waits below go before the pool does.
  boost::asio::thread_pool finishers_{4};
  std::unique_ptr<AgentReplies> replies_ = std::make_unique<AgentReplies>();

  std::mutex mu_;
  std::condition_variable changed_;  // a snapshot finished, or shutdown
  std::map<std::string, FunctionState> functions_;
  std::set<Environment*> busy_;  // running an invocation now (shutdown() cuts them short)
  bool stopping_ = false;
};

}  // namespace ember::host
