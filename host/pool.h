// VmPool: the one owner of idle VMs. Per snapshot, N restored VMs kept ready (handed out at
// once, refilled in the background) and the warm VMs given back after an invocation; one
// least-recently-used order and one idle policy over both.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/result.h"
#include "host/agent_client.h"
#include "host/foreground_gate.h"
#include "host/net/egress_policy.h"
#include "host/vm_client.h"

namespace ember::host {

class VmCgroup;

namespace net {
class VmNetns;
}

// What to restore: a snapshot directory (the pool's key) and what a clone of it costs.
struct SnapshotSpec {
  std::string dir;                 // holds state.bin and memory.bin
  uint64_t mem_mib = 128;          // guest memory of one clone, counted against the cap
  std::vector<std::string> disks;  // replace the snapshot's disks on restore (same count)
  // With networking, what a clone may reach: assigned before its guest runs again.
  net::EgressPolicy egress;
};

// One restored VM, its agent already refreshed.
class PooledVm {
 public:
  virtual ~PooledVm() = default;  // destroys the VM: kills its VMM, removes its sockets
  // The session to the agent, ready for requests.
  virtual AgentSession& agent() = 0;
  virtual VmProcess& process() = 0;
  // The VM's network namespace; null when it has no network device.
  virtual const net::VmNetns* netns() const { return nullptr; }
  // Of making it: the milliseconds spent assigning its egress policy (0 when its namespace
  // was made ahead with that policy, or without a network).
  virtual double egress_ms() const { return 0; }
  // How long its restore took, whenever it was made (a ready VM: before it was acquired):
  // from the restore request (or the VMM's spawn) to the agent's RefreshAck. 0: unknown.
  virtual double restore_ms() const { return 0; }
  // The cgroup its VMM started in; null when VMMs run without cgroups here.
  virtual const VmCgroup* cgroup() const { return nullptr; }
  // False once the VM cannot serve (its VMM exited); the pool drops such ready VMs.
  virtual bool alive() = 0;
};

// Makes VMs; the pool calls it from its worker thread and from acquire() concurrently.
class VmFactory {
 public:
  virtual ~VmFactory() = default;
  virtual Result<std::unique_ptr<PooledVm>> restore(const SnapshotSpec& spec) = 0;
};

struct PoolOptions {
  size_t default_ready = 2;     // N for a snapshot first seen through acquire()
  uint64_t max_mem_mib = 8192;  // cap on the guest memory of idle + leased + restoring VMs
  // A warm VM not used for this long is destroyed. A snapshot not acquired for this long
  // has all its idle VMs destroyed and is not refilled until the next acquire().
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
  // After a failed background restore, the next attempt for that snapshot waits
  // backoff_initial, doubling per consecutive failure up to backoff_max.
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(30)};
  // How often the worker checks that ready VMs are still alive.
  std::chrono::milliseconds health_interval{std::chrono::seconds(1)};
  // When set, each background restore first waits its turn (ForegroundGate::kMaxDefer at
  // most) behind the cold starts in progress.
  std::shared_ptr<ForegroundGate> gate;
};

struct SnapshotPoolStats {
  size_t target = 0, ready = 0, warm = 0, leased = 0, restoring = 0;
  uint64_t hits = 0;                  // acquire() served from an idle VM (ready or warm)
  uint64_t misses = 0;                // acquire() that restored on demand
  uint64_t restored = 0;              // successful background restores
  uint64_t failures = 0;              // failed restores, background and on demand
  uint32_t consecutive_failures = 0;  // background; reset by a success
  bool idle = false;                  // reaped for idleness, not refilled until acquired
  std::string last_error;             // the last failed restore's message
};

struct PoolStats {
  uint64_t mem_mib_held = 0;  // idle + leased + restoring
  std::map<std::string, SnapshotPoolStats> snapshots;
};

class VmPool;

// A VM handed out by acquire(), take_warm() or adopt(). Destroyed with the VM unless released
// with keep_warm.
class Lease {
 public:
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  ~Lease() { release(false); }

  PooledVm& vm() { return *vm_; }
  PooledVm* operator->() { return vm_.get(); }
  bool hit() const { return hit_; }    // came from an idle VM, without a restore
  bool warm() const { return warm_; }  // that VM served an invocation before

  // Gives the VM back: destroyed, or with keep_warm (the VM is healthy and may serve the
  // same snapshot again) kept as the snapshot's most recently used warm VM.
  void release(bool keep_warm);

 private:
  friend class VmPool;
  Lease(VmPool* pool, std::string key, std::unique_ptr<PooledVm> vm, uint64_t mem_mib, bool hit,
        bool warm)
      : pool_(pool), key_(std::move(key)), vm_(std::move(vm)), mem_mib_(mem_mib), hit_(hit),
        warm_(warm) {}

  VmPool* pool_ = nullptr;
  std::string key_;
  std::unique_ptr<PooledVm> vm_;
  uint64_t mem_mib_ = 0;
  bool hit_ = false;
  bool warm_ = false;
};

// Guest memory counted against a pool's cap for a VM the pool does not hold (one booted
// outside it); given back when destroyed.
class MemoryCharge {
 public:
  MemoryCharge(MemoryCharge&& other) noexcept
      : pool_(std::exchange(other.pool_, nullptr)), mem_mib_(other.mem_mib_) {}
  MemoryCharge& operator=(MemoryCharge&&) = delete;
  MemoryCharge(const MemoryCharge&) = delete;
  ~MemoryCharge();

 private:
  friend class VmPool;
  MemoryCharge(VmPool* pool, uint64_t mem_mib) : pool_(pool), mem_mib_(mem_mib) {}
  VmPool* pool_ = nullptr;
  uint64_t mem_mib_ = 0;
};

// Thread-safe. Memory cap: background refill stops at the cap; an acquire() that must
// restore on demand, or a charge(), first destroys idle VMs of other snapshots to make room,
// least recently used first (a warm VM was used when it was given back, a ready one when its
// snapshot was last acquired), and fails at once with EAGAIN when leased, restoring and
// charged VMs alone leave no room: it never waits. After such a refusal no refill starts for
// kDemandFirst or until an acquire() or charge() gets room, so that the memory a leased VM
// frees is not taken first by the background.
class VmPool {
 public:
  VmPool(std::unique_ptr<VmFactory> factory, PoolOptions options);
  // Stops the worker (waiting for a restore in progress) and destroys every ready VM. All
  // leases must have been released before: a lease outliving its pool aborts.
  ~VmPool();
  VmPool(const VmPool&) = delete;
  VmPool& operator=(const VmPool&) = delete;

  // Keeps `ready` VMs of spec ready (0: none kept, restore on demand only); reactivates an
  // idle snapshot. Returns at once; the worker restores in the background.
  void ensure(const SnapshotSpec& spec, size_t ready);
  // Forgets a snapshot: its ready VMs are destroyed; leases stay valid.
  void remove(const std::string& dir);

  // An idle VM of spec without waiting, the most recently used warm one first, else a ready
  // one; when there is none, restores one in the calling thread. A snapshot seen first here
  // is kept at options.default_ready from now on.
  Result<Lease> acquire(const SnapshotSpec& spec);
  // The most recently used warm VM of dir, or nothing; never restores.
  std::optional<Lease> take_warm(const std::string& dir);
  // Takes over a VM made outside the pool for spec (a booted one) and the charge of its
  // memory: leased, and once released with keep_warm a warm VM of spec like any other. A
  // snapshot removed meanwhile stays removed: the VM is destroyed when released.
  Lease adopt(const SnapshotSpec& spec, std::unique_ptr<PooledVm> vm, MemoryCharge charge);

  // Counts mem_mib against the cap for a VM made outside the pool, destroying ready VMs
  // (least recently acquired snapshot first) to make room; EAGAIN, at once, when leased,
  // restoring and charged memory alone leave no room.
  Result<MemoryCharge> charge(uint64_t mem_mib);

  // Waits until `count` VMs of dir are ready (restored, not yet used); false on timeout.
  bool wait_ready(const std::string& dir, size_t count, std::chrono::milliseconds timeout);

  PoolStats stats() const;
  // Snapshots the pool keeps an entry for, removed ones included until their last VM is
  // back (tests).
  size_t tracked_snapshots() const;

 private:
  friend class Lease;
  friend class MemoryCharge;
  using Clock = std::chrono::steady_clock;
  struct IdleVm {
    std::unique_ptr<PooledVm> vm;
    uint64_t mem_mib = 0;
    bool warm = false;               // served an invocation: then given back at last_used
    Clock::time_point last_used{};
  };
  struct Entry;
  // VMs to destroy once mu_ is released (their memory is already uncounted).
  using Doomed = std::vector<std::unique_ptr<PooledVm>>;

  void give_back(const std::string& key, std::unique_ptr<PooledVm> vm, uint64_t mem_mib,
                 bool keep_warm);
  void uncharge(uint64_t mem_mib);
  // EAGAIN: the cap is reached and evicting ready VMs would not make room.
  Error cap_reached(const std::string& what, uint64_t mem_mib) const;
  // Under mu_: moves an idle VM into doomed and uncounts its memory.
  void doom(IdleVm idle, Doomed& doomed);
  // Under mu_: the front idle VM of e that is still alive (dead ones are doomed), leased.
  std::optional<Lease> lease_front(Entry& e, bool warm_only, Doomed& doomed);
  void run_worker();
  // Under mu_: finds a snapshot that needs a background restore now.
  Entry* pick_refill(Clock::time_point now);
  // Under mu_: moves idle, dead and surplus VMs into doomed; the next time to look again.
  Clock::time_point housekeeping(Clock::time_point now, Doomed& doomed);
  std::chrono::milliseconds backoff(uint32_t failures) const;
  // Under mu_: destroys idle VMs of snapshots other than key, least recently used first,
  // until mem_mib fits.
  bool make_room(const std::string& key, uint64_t mem_mib, Doomed& doomed);
  Entry& entry_for(const SnapshotSpec& spec, size_t default_target, Clock::time_point now);

  std::unique_ptr<VmFactory> factory_;
  const PoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;     // the worker: work may be there
  std::condition_variable changed_;  // wait_ready(): a VM became ready
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  uint64_t mem_held_ = 0;
  static constexpr std::chrono::seconds kDemandFirst{1};
  Clock::time_point demand_first_until_{};  // see the class comment
  bool stopping_ = false;
  std::thread worker_;  // last: started once everything above exists
};

}  // namespace ember::host
