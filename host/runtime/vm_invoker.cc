// VmInvoker: warm reuse, restore from the function's init snapshot, or boot + init + snapshot.
#include "host/runtime/vm_invoker.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <future>
#include <utility>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "host/net/host_network.h"
#include "host/restored_vm.h"
#include "host/snapshot_working_set.h"
#include "host/runtime/lambda_environment.h"
#include "host/runtime/leftovers.h"

namespace ember::host {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Layout under <state_dir>/runtime: run/ (VM sockets), snapshots/<function>/<revision>/.
std::string run_dir(const std::string& state_dir) { return state_dir + "/runtime/run"; }
std::string function_snapshots(const std::string& state_dir, const std::string& function) {
  return state_dir + "/runtime/snapshots/" + function;
}

// The handler's budget in Invoke is its timeout less this (see invoke()).
constexpr uint64_t kDeadlineMarginMs = 50;

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string error_payload(const std::string& type, const std::string& message) {
  return nlohmann::json{{"errorType", type}, {"errorMessage", message}}.dump();
}

InvokeOutcome function_error(const std::string& payload, std::string logs) {
  InvokeOutcome out;
  out.payload = payload;
  out.function_error = "Unhandled";
  out.runtime_output = std::move(logs);
  return out;
}

std::string timed_out_message(const InvokeRequest& request) {
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%.2f", static_cast<double>(request.fn.timeout_s));
  return "RequestId: " + request.request_id + " Error: Task timed out after " + seconds +
         " seconds";
}

std::string exit_message(const InvokeRequest& request, const InvokeResult& result) {
  const std::string how = result.term_signal != 0
                              ? "signal: " + std::string(strsignal(result.term_signal))
                              : "exit status " + std::to_string(result.exit_code);
  return "RequestId: " + request.request_id + " Error: Runtime exited with error: " + how;
}

Status check_readable(const std::string& what, const std::string& path) {
  if (path.empty()) return make_error("microVM invoker", "no " + what + " given");
  if (path.find('/') == std::string::npos) return {};  // looked up in PATH
  if (::access(path.c_str(), R_OK) != 0) {
    return errno_error("microVM invoker", what + " " + path +
                                              " is not readable; build it with scripts/demo or "
                                              "scripts/test, or pass its path to emberd");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<VmInvoker>> VmInvoker::create(const InvokerConfig& config,
                                                     VmInvokerOptions options) {
  EMBER_CHECK(check_readable("ember-vmm", config.vmm_path));
  EMBER_CHECK(check_readable("guest kernel", config.kernel));
  EMBER_CHECK(check_readable("guest root image", config.rootfs));
  EMBER_CHECK(check_readable("guest initramfs", config.initramfs));
  // What an emberd that died on this state directory left: before anything new is made.
  EMBER_TRY(SweptLeftovers swept, sweep_leftovers(config.state_dir, options.cgroup_root));
  if (!swept.empty()) {
    std::fprintf(stderr, "emberd: removed what an earlier emberd on %s left behind: %s\n",
                 config.state_dir.c_str(), swept.describe().c_str());
  }
  std::error_code ec;
  fs::create_directories(run_dir(config.state_dir), ec);
  if (ec) return make_error("microVM invoker", config.state_dir + "/runtime: " + ec.message());
  std::shared_ptr<jail::VmJails> jails;
  if (config.jail.enabled) {
    jail::JailOptions jail = config.jail;
    jail.base_dir = config.state_dir + "/jail";
    jail.always_ro = {config.rootfs};
    EMBER_TRY(jails, jail::VmJails::create(std::move(jail)));
  }
  Status cgroups = VmCgroup::prepare(options.cgroup_root);
  if (!cgroups.ok()) {
    std::fprintf(stderr,
                 "emberd: warning: VMM processes run without cgroup limits (guest RAM still "
                 "bounds each function): %s\n",
                 cgroups.error().message().c_str());
  }
  return std::unique_ptr<VmInvoker>(
      new VmInvoker(config, std::move(options), cgroups.ok(), std::move(jails)));
}

namespace {

PoolOptions pool_options(const InvokerConfig& config, const VmInvokerOptions& options,
                         std::shared_ptr<ForegroundGate> gate) {
  PoolOptions p;
  p.gate = std::move(gate);
  p.default_ready = options.ready_per_function;
  if (config.max_vm_memory_mib != 0) p.max_mem_mib = config.max_vm_memory_mib;
  p.idle_timeout = options.idle_timeout;
  return p;
}

// cgroup_root: empty when VMMs run without cgroups here.
RestoredVmOptions restored_options(const InvokerConfig& config,
                                   std::shared_ptr<ForegroundGate> gate,
                                   std::shared_ptr<jail::VmJails> jails,
                                   const std::string& cgroup_root) {
  RestoredVmOptions r;
  r.jails = jails;
  r.cgroup_root = cgroup_root;
  r.vmm_path = config.vmm_path;
  r.run_dir = run_dir(config.state_dir);
  r.ready_timeout = std::chrono::seconds(60);
  r.network = config.network;
  if (config.standby_vmms > 0) {
    r.standby = std::make_shared<StandbyStock>(config.vmm_path, r.run_dir, config.standby_vmms,
                                               VmmNetwork{config.network, config.egress_default},
                                               std::move(gate), std::move(jails),
                                               kStandbyMaxAge, cgroup_root);
  }
  return r;
}

}  // namespace

VmInvoker::VmInvoker(const InvokerConfig& config, VmInvokerOptions options, bool cgroups,
                     std::shared_ptr<jail::VmJails> jails)
    : config_(config),
      options_(std::move(options)),
      vmm_cgroup_root_(cgroups ? options_.cgroup_root : ""),
      jails_(std::move(jails)),
      pool_(std::make_unique<RestoredVmFactory>(
                restored_options(config, gate_, jails_, vmm_cgroup_root_)),
            pool_options(config, options_, gate_)) {}

VmInvoker::~VmInvoker() {
  shutdown();
  // Invocations still waiting end now (their sessions were cut), then their finishing.
  replies_.reset();
  finishers_.join();
}

std::string VmInvoker::snapshot_dir(const std::string& function,
                                    const std::string& revision) const {
  // A snapshot holds a network device or not: one made without networking is kept apart.
  const char* suffix = config_.network != nullptr ? "" : "-loopback";
  return function_snapshots(config_.state_dir, function) + "/" + revision + suffix;
}

Result<net::EgressPolicy> VmInvoker::egress_policy(const FunctionSpec& fn) const {
  if (fn.egress.empty()) return config_.egress_default;
  return net::parse_egress_policy(fn.egress);
}

Result<SnapshotSpec> VmInvoker::snapshot_spec(const FunctionSpec& fn) const {
  EMBER_TRY(net::EgressPolicy egress, egress_policy(fn));
  return SnapshotSpec{snapshot_dir(fn.name, fn.revision_id), fn.memory_mb, snapshot_disks(fn),
                      std::move(egress)};
}

std::vector<std::string> VmInvoker::snapshot_disks(const FunctionSpec& fn) const {
  // A jail shows only the files named to it: the disks a restore opens are named here,
  // as booted (root image first, then the code image), read-only.
  if (!jails_) return {};
  std::vector<std::string> disks = {config_.rootfs + ":ro"};
  if (!fn.code_image_path.empty()) disks.push_back(fn.code_image_path + ":ro");
  return disks;
}

VmInvoker::EnvPtr VmInvoker::take_warm(const FunctionSpec& fn) {
  std::string old_dir;
  {
    std::lock_guard lock(mu_);
    FunctionState& state = functions_[fn.name];
    if (state.revision != fn.revision_id) {
      // Code or configuration changed since (or, racing an update, an invocation of the
      // revision before it arrived): the other revision's VMs and snapshot must not serve,
      // nor its files stay behind.
      if (!state.revision.empty()) {
        old_dir = snapshot_dir(fn.name, state.revision);
        pool_.remove(old_dir);
      }
      state.revision = fn.revision_id;
      state.snapshotting = false;
    }
  }
  if (!old_dir.empty()) {
    std::error_code ec;
    fs::remove_all(old_dir, ec);
  }
  std::optional<Lease> warm = pool_.take_warm(snapshot_dir(fn.name, fn.revision_id));
  if (!warm) return nullptr;
  return std::make_unique<Environment>(std::move(*warm));
}

void VmInvoker::limit(Environment& env, const FunctionSpec& fn) {
  // The VMM started in its cgroup without a CPU quota (new_vmm_limits): a new environment's
  // boot, init or restore, and its first invocation, which pays for a clone's first touches
  // of its memory (at 128 MB the share is 7 % of a CPU), run at full speed. Then the
  // memory's share, as in Lambda.
  if (env.vm().cgroup() != nullptr) env.cpus_after_first = cpu_share_for_memory(fn.memory_mb);
}

bool VmInvoker::current(const FunctionSpec& fn) const {
  const auto it = functions_.find(fn.name);
  return it != functions_.end() && it->second.revision == fn.revision_id;
}

void VmInvoker::record_working_set(const FunctionSpec& fn, Environment& env) {
  if (!std::exchange(env.first_after_restore, false)) return;
  const auto t0 = Clock::now();
  auto pages = record_snapshot_working_set(env.vm().process().pid(),
                                           snapshot_dir(fn.name, fn.revision_id));
  if (!pages.ok()) {
    std::lock_guard lock(mu_);
    if (!current(fn)) return;  // retired meanwhile: its snapshot is gone, and nothing restores it
    std::fprintf(stderr, "emberd: %s: warning: %s; its restores fault their pages in as they go\n",
                 fn.name.c_str(), pages.error().message().c_str());
  } else if (*pages > 0) {
    std::fprintf(stderr, "emberd: %s: working set recorded: %" PRIu64 " pages (%.1f ms), "
                 "installed by its later restores\n", fn.name.c_str(), *pages,
                 ms_between(t0, Clock::now()));
  }
}

Result<VmInvoker::ColdStart> VmInvoker::restore(const FunctionSpec& fn) {
  const auto t0 = Clock::now();
  EMBER_TRY(const SnapshotSpec spec, snapshot_spec(fn));
  EMBER_TRY(Lease lease, pool_.acquire(spec));
  ColdStart cold;
  cold.timing.cold = !lease.warm();  // given back warm since take_warm() looked: a warm start
  if (cold.timing.cold) {
    // A ready VM got its policy in the background: none of it was on this path.
    cold.timing.network_ms = lease.hit() ? 0 : lease->egress_ms();
    // The VM's own restore, on this path or ahead of it (then from_pool).
    cold.timing.restore_ms =
        lease->restore_ms() > 0 ? lease->restore_ms() : ms_between(t0, Clock::now());
    cold.timing.from_pool = lease.hit();
  }
  cold.env = std::make_unique<Environment>(std::move(lease));
  cold.env->first_after_restore = cold.timing.cold;
  return cold;
}

Result<VmInvoker::ColdStart> VmInvoker::boot_and_init(const InvokeRequest& request) {
  const FunctionSpec& fn = request.fn;
  BootSpec spec;
  spec.vmm_path = config_.vmm_path;
  spec.kernel = config_.kernel;
  spec.rootfs = config_.rootfs;
  spec.initramfs = config_.initramfs;
  spec.code_image = fn.code_image_path;
  spec.memory_mb = fn.memory_mb;
  spec.vcpus = vcpus_for_memory(fn.memory_mb);
  spec.tmp_mib = fn.ephemeral_mb;
  spec.run_dir = run_dir(config_.state_dir);
  spec.network = config_.network;
  spec.jails = jails_;
  spec.cgroup_root = vmm_cgroup_root_;
  spec.test_forbidden_syscall =
      !config_.test_forbidden_syscall_in.empty() && fn.name == config_.test_forbidden_syscall_in;
  EMBER_TRY(spec.egress, egress_policy(fn));
  const auto t0 = Clock::now();
  EMBER_TRY(MemoryCharge charge, pool_.charge(fn.memory_mb));
  EMBER_TRY(std::unique_ptr<BootedVm> vm, BootedVm::boot(spec));
  const auto t1 = Clock::now();

  InitRuntime init;
  init.runtime = fn.runtime;
  init.handler = fn.handler;
  init.env = lambda_environment(fn, config_.region);
  init.code_device = kCodeDevice;
  init.task_root = kTaskRoot;
  init.init_timeout_ms = static_cast<uint32_t>(options_.init_timeout.count());
  auto initialized =
      vm->agent().init_runtime(init, options_.init_timeout + std::chrono::seconds(5));
  // The VM went away during init (its VMM's last words say why), or the agent did not answer.
  if (!initialized.ok()) return with_vmm_output(initialized.error(), vm->process());
  InitResult result = std::move(initialized).value();
  ColdStart cold;
  cold.timing.cold = true;
  cold.timing.boot_ms = ms_between(t0, t1);
  cold.timing.network_ms = vm->egress_ms();
  cold.timing.init_ms = static_cast<double>(result.init_duration_ns) / 1e6;
  cold.init_logs = result.logs;
  if (!result.ok) {
    const std::string payload =
        !result.error_body.empty()
            ? result.error_body
            : error_payload(result.error_type, "RequestId: " + request.request_id +
                                                   " Error: the runtime failed to start");
    cold.init_failure = function_error(payload, result.logs);
    return cold;
  }
  // The runtime now waits in `next`: this is the state every later cold start restores.
  Status snap = vm->snapshot(snapshot_dir(fn.name, fn.revision_id));
  if (!snap.ok()) {
    std::fprintf(stderr, "emberd: warning: no snapshot for %s (next cold start boots again): %s\n",
                 fn.name.c_str(), snap.error().message().c_str());
  }
  SnapshotSpec clone{snapshot_dir(fn.name, fn.revision_id), fn.memory_mb, snapshot_disks(fn),
                     spec.egress};
  std::lock_guard lock(mu_);
  // Retired meanwhile (updated or deleted during this boot and init): no snapshot or pool
  // entry of a dead revision may survive. This invocation still runs on its VM, which goes
  // when it ends.
  const bool retired = !current(fn);
  if (retired && snap.ok()) {
    std::error_code ec;
    fs::remove_all(clone.dir, ec);
  } else if (snap.ok()) {
    pool_.ensure(clone, options_.ready_per_function);
  }
  cold.env = std::make_unique<Environment>(pool_.adopt(clone, std::move(vm), std::move(charge)));
  if (retired) pool_.remove(clone.dir);
  return cold;
}

Result<VmInvoker::ColdStart> VmInvoker::cold_start(const InvokeRequest& request,
                                                   bool may_rebuild) {
  const FunctionSpec& fn = request.fn;
  const std::string dir = snapshot_dir(fn.name, fn.revision_id);
  {
    std::unique_lock lock(mu_);
    // One boot-and-init per revision; concurrent cold starts wait for its snapshot.
    const auto deadline = Clock::now() + options_.init_timeout + std::chrono::seconds(90);
    changed_.wait_until(lock, deadline, [&] {
      return stopping_ || !functions_[fn.name].snapshotting ||
             functions_[fn.name].revision != fn.revision_id;
    });
    if (stopping_) return make_error("invoke " + fn.name, "emberd is shutting down");
    if (!fs::exists(dir + "/state.bin")) {
      FunctionState& state = functions_[fn.name];
      if (state.revision == fn.revision_id && !state.snapshotting) {
        state.snapshotting = true;
        lock.unlock();
        auto booted = boot_and_init(request);
        lock.lock();
        if (functions_[fn.name].revision == fn.revision_id) functions_[fn.name].snapshotting = false;
        changed_.notify_all();
        return booted;
      }
      if (state.revision != fn.revision_id) {
        // Retired while this cold start waited for the revision's first boot: the
        // invocation has not begun, so it runs on what the function is now (the caller
        // looks it up again) rather than booting a dead revision.
        return Error{ESTALE, "invoke " + fn.name,
                     "the function changed before this invocation began"};
      }
      lock.unlock();
      return boot_and_init(request);  // the revision's snapshot failed: one boot each
    }
  }
  auto restored = restore(fn);
  // EAGAIN: no room for the VM (a throttle), which another snapshot would not change.
  if (restored.ok() || restored.error().code == EAGAIN || !may_rebuild) return restored;
  std::fprintf(stderr,
               "emberd: %s: the snapshot in %s cannot be restored (%s); it is removed, and this "
               "cold start boots, initializes and snapshots the function again\n",
               fn.name.c_str(), dir.c_str(), restored.error().message().c_str());
  {
    std::lock_guard lock(mu_);
    // Unless a concurrent cold start already rebuilds it (then this one waits for that).
    if (!functions_[fn.name].snapshotting) {
      pool_.remove(dir);
      std::error_code ec;
      fs::remove_all(dir, ec);  // restored VMs keep their mapping of memory.bin
      if (ec) {
        return make_error("invoke " + fn.name,
                          "remove the snapshot " + dir + ": " + ec.message());
      }
    }
  }
  return cold_start(request, false);
}

Result<InvokeOutcome> VmInvoker::invoke(const InvokeRequest& request) {
  std::promise<Result<InvokeOutcome>> answer;
  std::future<Result<InvokeOutcome>> outcome = answer.get_future();
  invoke_async(request,
               [&answer](Result<InvokeOutcome> result) { answer.set_value(std::move(result)); });
  return outcome.get();
}

void VmInvoker::invoke_async(InvokeRequest request, InvokeDone done) {
  auto run = std::make_shared<Running>();
  run->done = std::move(done);
  run->request = std::move(request);
  const InvokeRequest& req = run->request;
  const FunctionSpec& fn = req.fn;
  run->cold.env = take_warm(fn);
  if (!run->cold.env) {
    run->foreground.emplace(gate_->enter());  // a cold start: refills wait until its end
    auto made = cold_start(req);
    if (!made.ok()) return run->done(made.error());
    if (made->init_failure) {
      made->init_failure->timing = made->timing;
      made->init_failure->timing.total_ms = ms_between(req.received, Clock::now());
      return run->done(*made->init_failure);
    }
    run->cold = std::move(made).value();
    if (!run->cold.env->lease.warm()) limit(*run->cold.env, fn);
  }
  Environment& env = *run->cold.env;

  Invoke invoke;
  invoke.request_id = req.request_id;
  // The agent counts the budget from its receipt, after this message's transit: with the
  // margin the runtime's remaining time never shows more than the timeout. emberd still
  // allows the full timeout.
  invoke.budget_ms = uint64_t{fn.timeout_s} * 1000 - kDeadlineMarginMs;
  invoke.invoked_function_arn = fn.arn;
  invoke.client_context = req.client_context;
  invoke.payload = std::move(run->request.payload);  // not needed after sending
  const milliseconds timeout(uint64_t{fn.timeout_s} * 1000);
  run->handler_start = Clock::now();
  // Whatever came before the handler and was not this request's own cold start work.
  const InvokeTiming& t = run->cold.timing;
  const double own_work = (t.from_pool ? 0 : t.restore_ms) + t.boot_ms + t.init_ms;
  run->cold.timing.queue_ms =
      std::max(0.0, ms_between(req.received, run->handler_start) - own_work);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return run->done(make_error("invoke " + fn.name, "emberd is shutting down"));
    busy_.insert(&env);
  }
  // Sending happens on this thread (a guest that stops draining its vsock holds it until
  // the timeout at most); the wait for the answer holds no thread.
  if (Status sent = env.vm().agent().send_invoke(invoke, timeout); !sent.ok()) {
    return finish(run, sent.error());
  }
  replies_->wait(env.vm().agent(), run->handler_start + timeout,
                [this, run](Result<AgentMessage> reply) {
                  asio::post(finishers_, [this, run, reply = std::move(reply)]() mutable {
                    finish(run, invoke_reply(std::move(reply)));
                  });
                });
}

void VmInvoker::finish(const std::shared_ptr<Running>& run, Result<InvokeResult> result) {
  const InvokeRequest& request = run->request;
  const FunctionSpec& fn = request.fn;
  Environment& env = *run->cold.env;
  const auto handler_end = Clock::now();
  {
    std::lock_guard lock(mu_);
    busy_.erase(&env);
    // shutdown() cut this invocation short: a service error, not the function's.
    if (stopping_ && !result.ok()) {
      return run->done(make_error(
          "invoke " + fn.name, "emberd is shutting down; the invocation was stopped before it ended"));
    }
  }
  bool within_share = true;  // else retired: never kept beyond its CPU share
  if (env.cpus_after_first > 0 && env.vm().cgroup() != nullptr) {
    Status limited = env.vm().cgroup()->set_cpus(std::exchange(env.cpus_after_first, 0));
    if (!limited.ok()) {
      std::fprintf(stderr, "emberd: %s: %s; the VM is retired\n", fn.name.c_str(),
                   limited.error().message().c_str());
      within_share = false;
    }
  }

  InvokeOutcome out;
  bool keep = false;
  if (!result.ok()) {
    std::fprintf(stderr, "emberd: %s: invocation %s ended without a result: %s; ember-vmm stderr:\n%s\n",
                 fn.name.c_str(), request.request_id.c_str(), result.error().message().c_str(),
                 env.vm().process().stderr_output(2048).c_str());
    if (result.error().code == ETIMEDOUT) {
      out = function_error(error_payload("Sandbox.Timedout", timed_out_message(request)), "");
      out.duration_ms = fn.timeout_s * 1000.0;
    } else {
      // Say how the VMM ended (a guest crash, a seccomp kill), when it did.
      const std::string end = describe_vmm_end(env.vm().process());
      out = function_error(error_payload("Runtime.ExitError",
                                         "RequestId: " + request.request_id +
                                             " Error: the execution environment stopped: " +
                                             result.error().message() +
                                             (end.empty() ? "" : "; " + end)),
                           "");
      out.duration_ms = ms_between(run->handler_start, handler_end);
    }
  } else {
    const InvokeResult& r = *result;
    out.runtime_output = r.logs;
    out.duration_ms = static_cast<double>(r.duration_ns) / 1e6;
    out.max_memory_used_mb = (r.max_memory_used_bytes + (1u << 20) - 1) >> 20;
    switch (r.status) {
      case InvokeResult::kSuccess:
        out.payload = r.payload;
        keep = true;
        break;
      case InvokeResult::kFunctionError:
        out.payload = r.payload;
        out.function_error = "Unhandled";
        keep = true;
        break;
      case InvokeResult::kRuntimeExit:
        out.payload = error_payload(r.error_type.empty() ? "Runtime.ExitError" : r.error_type,
                                    exit_message(request, r));
        out.function_error = "Unhandled";
        break;
    }
  }
  out.runtime_output = run->cold.init_logs + out.runtime_output;
  // A clone's first invocation shows which of the snapshot's pages a restore needs. One that
  // timed out shows those it reached: recorded too, or every later clone would fault them
  // in one by one again and time out the same way.
  const bool timed_out = !result.ok() && result.error().code == ETIMEDOUT;
  if (keep || (timed_out && env.vm().alive())) record_working_set(fn, env);
  out.timing = run->cold.timing;
  out.timing.handler_ms = ms_between(run->handler_start, handler_end);
  out.timing.total_ms = ms_between(request.received, Clock::now());
  // Back in the pool (or destroyed) before the caller hears: its next call finds it warm.
  if (keep && within_share) give_back(std::move(run->cold.env));
  run->cold.env.reset();
  run->foreground.reset();
  run->done(std::move(out));
}

void VmInvoker::give_back(EnvPtr env) {
  bool stopping;
  {
    std::lock_guard lock(mu_);
    stopping = stopping_;
  }
  // A retired revision's snapshot is removed from the pool: its VMs are destroyed here too.
  env->lease.release(!stopping);
}

void VmInvoker::retire(const std::string& function_name) {
  std::string old_dir;
  {
    std::lock_guard lock(mu_);
    auto it = functions_.find(function_name);
    if (it == functions_.end()) return;
    if (!it->second.revision.empty()) {
      old_dir = snapshot_dir(function_name, it->second.revision);
    }
    functions_.erase(it);
    changed_.notify_all();
  }
  if (!old_dir.empty()) pool_.remove(old_dir);
  std::error_code ec;
  fs::remove_all(function_snapshots(config_.state_dir, function_name), ec);
}

void VmInvoker::shutdown() {
  std::lock_guard lock(mu_);
  if (std::exchange(stopping_, true)) return;
  // Invocations still running end now: their agent sessions are cut (the VMs go when their
  // invocations return). Warm and ready VMs go with the pool.
  for (Environment* env : busy_) ::shutdown(env->vm().agent().fd(), SHUT_RDWR);
  changed_.notify_all();
}

Result<std::unique_ptr<Invoker>> make_vm_invoker(const InvokerConfig& config) {
  VmInvokerOptions options;
  options.init_timeout = config.init_timeout;
  EMBER_TRY(std::unique_ptr<VmInvoker> invoker, VmInvoker::create(config, std::move(options)));
  return std::unique_ptr<Invoker>(std::move(invoker));
}

}  // namespace ember::host
