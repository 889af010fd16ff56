// VmPool: the per-snapshot idle lists (warm and ready), the refill worker, the memory cap and
// idle reaping.
#include "host/pool.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>

namespace ember::host {

struct VmPool::Entry {
  SnapshotSpec spec;
  size_t target = 0;
  // Front first out: warm VMs, most recently used first, then ready ones in the order made.
  std::deque<IdleVm> vms;
  size_t leased = 0;
  size_t restoring = 0;     // on demand and background
  size_t bg_restoring = 0;  // background only: counts toward the target
  Clock::time_point last_acquire;
  Clock::time_point retry_after;  // background restores wait until then after a failure
  Clock::time_point next_health_check;
  bool idle = false;
  bool removed = false;
  // A removed entry stays, as a tombstone, for an idle timeout after its removal: a VM that
  // a cold start begun before the removal adopts meanwhile is destroyed when released.
  Clock::time_point removed_at;
  SnapshotPoolStats counters;

  size_t ready() const {  // restored and never used
    return static_cast<size_t>(std::count_if(vms.begin(), vms.end(),
                                             [](const IdleVm& vm) { return !vm.warm; }));
  }
  // When an idle VM was last used: a warm one's, else the snapshot's last acquire.
  Clock::time_point last_used(const IdleVm& vm) const {
    return vm.warm ? vm.last_used : last_acquire;
  }
};

Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      key_(std::move(other.key_)),
      vm_(std::move(other.vm_)),
      mem_mib_(other.mem_mib_),
      hit_(other.hit_),
      warm_(other.warm_) {}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release(false);
    pool_ = std::exchange(other.pool_, nullptr);
    key_ = std::move(other.key_);
    vm_ = std::move(other.vm_);
    mem_mib_ = other.mem_mib_;
    hit_ = other.hit_;
    warm_ = other.warm_;
  }
  return *this;
}

void Lease::release(bool keep_warm) {
  if (pool_ == nullptr) return;
  std::exchange(pool_, nullptr)->give_back(key_, std::move(vm_), mem_mib_, keep_warm);
}

VmPool::VmPool(std::unique_ptr<VmFactory> factory, PoolOptions options)
    : factory_(std::move(factory)), options_(options), worker_([this] { run_worker(); }) {}

VmPool::~VmPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
  size_t leased = 0;
  for (const auto& [key, entry] : entries_) leased += entry->leased;
  if (leased > 0) {
    std::fprintf(stderr, "VmPool destroyed while %zu VMs are leased\n", leased);
    std::abort();
  }
  entries_.clear();  // destroys every idle VM
}

VmPool::Entry& VmPool::entry_for(const SnapshotSpec& spec, size_t default_target,
                                 Clock::time_point now) {
  auto& slot = entries_[spec.dir];
  if (!slot) {
    slot = std::make_unique<Entry>();
    slot->target = default_target;
  } else if (slot->removed) {
    slot->removed = false;
    slot->target = default_target;
  }
  slot->spec = spec;
  slot->last_acquire = now;
  slot->idle = false;
  return *slot;
}

void VmPool::ensure(const SnapshotSpec& spec, size_t ready) {
  {
    std::lock_guard lock(mu_);
    entry_for(spec, ready, Clock::now()).target = ready;
  }
  wake_.notify_all();
}

void VmPool::remove(const std::string& dir) {
  Doomed doomed;
  std::unique_lock lock(mu_);
  auto it = entries_.find(dir);
  if (it == entries_.end()) return;
  Entry& e = *it->second;
  e.removed = true;
  e.removed_at = Clock::now();
  e.target = 0;
  while (!e.vms.empty()) {
    doom(std::move(e.vms.front()), doomed);
    e.vms.pop_front();
  }
  lock.unlock();
  wake_.notify_all();  // memory was freed: other snapshots may refill
}

void VmPool::doom(IdleVm idle, Doomed& doomed) {
  mem_held_ -= idle.mem_mib;
  doomed.push_back(std::move(idle.vm));
}

bool VmPool::make_room(const std::string& key, uint64_t mem_mib, Doomed& doomed) {
  // Evict nothing unless evicting is enough.
  uint64_t evictable = 0;
  for (const auto& [k, e] : entries_) {
    if (k == key) continue;
    for (const IdleVm& vm : e->vms) evictable += vm.mem_mib;
  }
  if (mem_held_ - evictable + mem_mib > options_.max_mem_mib) return false;
  while (mem_held_ + mem_mib > options_.max_mem_mib) {
    // The least recently used idle VM of another snapshot goes.
    Entry* victim = nullptr;
    std::deque<IdleVm>::iterator oldest;
    for (auto& [k, e] : entries_) {
      if (k == key) continue;
      for (auto it = e->vms.begin(); it != e->vms.end(); ++it) {
        if (victim == nullptr || e->last_used(*it) < victim->last_used(*oldest)) {
          victim = e.get();
          oldest = it;
        }
      }
    }
    if (victim == nullptr) return false;
    doom(std::move(*oldest), doomed);
    victim->vms.erase(oldest);
  }
  return true;
}

std::optional<Lease> VmPool::lease_front(Entry& e, bool warm_only, Doomed& doomed) {
  while (!e.vms.empty() && (e.vms.front().warm || !warm_only)) {
    IdleVm idle = std::move(e.vms.front());
    e.vms.pop_front();
    if (!idle.vm->alive()) {
      doom(std::move(idle), doomed);
      continue;
    }
    ++e.leased;
    ++e.counters.hits;
    return Lease(this, e.spec.dir, std::move(idle.vm), idle.mem_mib, true, idle.warm);
  }
  return std::nullopt;
}

std::optional<Lease> VmPool::take_warm(const std::string& dir) {
  Doomed doomed;  // destroyed after the lock is released
  std::lock_guard lock(mu_);
  auto it = entries_.find(dir);
  if (it == entries_.end() || it->second->removed) return std::nullopt;
  Entry& e = *it->second;
  std::optional<Lease> lease = lease_front(e, true, doomed);
  if (lease) {
    e.last_acquire = Clock::now();
    e.idle = false;
  }
  return lease;
}

Lease VmPool::adopt(const SnapshotSpec& spec, std::unique_ptr<PooledVm> vm, MemoryCharge charge) {
  std::lock_guard lock(mu_);
  auto& slot = entries_[spec.dir];
  if (!slot) {
    slot = std::make_unique<Entry>();  // no ready VMs unless ensure() asks for them
    slot->spec = spec;
    slot->last_acquire = Clock::now();
  }
  ++slot->leased;
  charge.pool_ = nullptr;  // its memory stays counted, now for the lease
  return Lease(this, spec.dir, std::move(vm), charge.mem_mib_, false, false);
}

Result<Lease> VmPool::acquire(const SnapshotSpec& spec) {
  Doomed doomed;
  std::unique_lock lock(mu_);
  Entry& e = entry_for(spec, options_.default_ready, Clock::now());
  if (std::optional<Lease> lease = lease_front(e, false, doomed)) {
    lock.unlock();
    wake_.notify_all();  // refill behind the VM just taken
    return std::move(*lease);
  }

  if (!make_room(spec.dir, spec.mem_mib, doomed)) {
    demand_first_until_ = Clock::now() + kDemandFirst;
    Error error = cap_reached("acquire a VM for " + spec.dir, spec.mem_mib);
    lock.unlock();
    return error;
  }
  demand_first_until_ = {};
  mem_held_ += spec.mem_mib;
  ++e.restoring;
  ++e.counters.misses;
  lock.unlock();
  wake_.notify_all();
  doomed.clear();

  auto vm = factory_->restore(spec);

  lock.lock();
  --e.restoring;
  if (!vm.ok()) {
    mem_held_ -= spec.mem_mib;
    ++e.counters.failures;
    e.counters.last_error = vm.error().message();
    Error error = vm.error();
    error.op = "restore " + spec.dir + " on demand: " + error.op;
    return error;
  }
  ++e.leased;
  return Lease(this, spec.dir, std::move(vm).value(), spec.mem_mib, false, false);
}

Error VmPool::cap_reached(const std::string& what, uint64_t mem_mib) const {
  return Error{EAGAIN, what,
               "the pool's memory cap is reached (" + std::to_string(mem_held_) + " of " +
                   std::to_string(options_.max_mem_mib) + " MiB held by leased, restoring " +
                   "and booted VMs, " + std::to_string(mem_mib) +
                   " MiB needed); release VMs or raise max_mem_mib"};
}

Result<MemoryCharge> VmPool::charge(uint64_t mem_mib) {
  Doomed doomed;  // destroyed after the lock is released
  std::lock_guard lock(mu_);
  if (!make_room("", mem_mib, doomed)) {
    demand_first_until_ = Clock::now() + kDemandFirst;
    return cap_reached("count " + std::to_string(mem_mib) + " MiB of guest memory", mem_mib);
  }
  if (std::exchange(demand_first_until_, {}) != Clock::time_point{}) wake_.notify_all();
  mem_held_ += mem_mib;
  return MemoryCharge(this, mem_mib);
}

void VmPool::uncharge(uint64_t mem_mib) {
  {
    std::lock_guard lock(mu_);
    mem_held_ -= mem_mib;
  }
  wake_.notify_all();  // a refill held back by the cap may go on
}

MemoryCharge::~MemoryCharge() {
  if (pool_ != nullptr) pool_->uncharge(mem_mib_);
}

void VmPool::give_back(const std::string& key, std::unique_ptr<PooledVm> vm, uint64_t mem_mib,
                       bool keep_warm) {
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    Entry* e = it == entries_.end() ? nullptr : it->second.get();
    if (e != nullptr) --e->leased;
    if (keep_warm && e != nullptr && !e->removed && vm->alive()) {
      const auto now = Clock::now();
      e->vms.push_front(IdleVm{std::move(vm), mem_mib, true, now});
      e->last_acquire = now;  // the snapshot was in use until now
      e->idle = false;
      return;
    }
    mem_held_ -= mem_mib;
  }
  vm.reset();
  wake_.notify_all();  // memory was freed: a refill may fit now
}

bool VmPool::wait_ready(const std::string& dir, size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] {
    auto it = entries_.find(dir);
    return it != entries_.end() && it->second->ready() >= count;
  });
}

VmPool::Entry* VmPool::pick_refill(Clock::time_point now) {
  // Memory freed for a refused on-demand request (its caller evicts warm VMs and retries)
  // must not go to a background refill first.
  if (now < demand_first_until_) return nullptr;
  Entry* best = nullptr;
  for (auto& [key, e] : entries_) {
    if (e->idle || e->removed || now < e->retry_after) continue;
    if (e->ready() + e->bg_restoring >= e->target) continue;
    if (mem_held_ + e->spec.mem_mib > options_.max_mem_mib) continue;
    if (best == nullptr || e->ready() < best->ready()) best = e.get();
  }
  return best;
}

VmPool::Clock::time_point VmPool::housekeeping(Clock::time_point now, Doomed& doomed) {
  Clock::time_point next = now + options_.health_interval;
  for (auto entry = entries_.begin(); entry != entries_.end();) {
    const std::unique_ptr<Entry>& e = entry->second;
    if (!e->removed && !e->idle && now - e->last_acquire >= options_.idle_timeout) e->idle = true;
    // A removed snapshot keeps no VM, not even one whose restore ended after the remove,
    // and once none of its VMs is leased or being restored and its tombstone's time is
    // over, no entry either.
    if (e->removed || e->idle) {
      while (!e->vms.empty()) {
        doom(std::move(e->vms.front()), doomed);
        e->vms.pop_front();
      }
      const bool unused = e->removed && e->leased == 0 && e->restoring == 0 &&
                          now - e->removed_at >= options_.idle_timeout;
      entry = unused ? entries_.erase(entry) : std::next(entry);
      continue;
    }
    ++entry;
    next = std::min(next, e->last_acquire + options_.idle_timeout);
    const bool check_health = now >= e->next_health_check;
    if (check_health) e->next_health_check = now + options_.health_interval;
    size_t surplus = e->ready() > e->target ? e->ready() - e->target : 0;  // target lowered
    // Back to front: the oldest ready VMs go first when the target was lowered.
    for (auto it = e->vms.end(); it != e->vms.begin();) {
      --it;
      const bool unused_too_long = it->warm && now - it->last_used >= options_.idle_timeout;
      const bool surplus_ready = !it->warm && surplus > 0;
      if (unused_too_long || surplus_ready || (check_health && !it->vm->alive())) {
        if (!it->warm && surplus > 0) --surplus;
        doom(std::move(*it), doomed);
        it = e->vms.erase(it);
      } else if (it->warm) {
        next = std::min(next, it->last_used + options_.idle_timeout);
      }
    }
    if (e->ready() + e->bg_restoring < e->target && now < e->retry_after) {
      next = std::min(next, e->retry_after);
    }
  }
  return next;
}

std::chrono::milliseconds VmPool::backoff(uint32_t failures) const {
  auto delay = options_.backoff_initial;
  for (uint32_t i = 1; i < failures && delay < options_.backoff_max; ++i) delay *= 2;
  return std::min(delay, options_.backoff_max);
}

void VmPool::run_worker() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    Doomed doomed;
    const auto now = Clock::now();
    const auto next = housekeeping(now, doomed);
    if (!doomed.empty()) {
      lock.unlock();
      doomed.clear();
      lock.lock();
      continue;  // look again with the memory freed
    }
    Entry* e = pick_refill(now);
    if (e == nullptr) {
      wake_.wait_until(lock, now < demand_first_until_ ? std::min(next, demand_first_until_) : next);
      continue;
    }
    const SnapshotSpec spec = e->spec;
    mem_held_ += spec.mem_mib;
    ++e->restoring;
    ++e->bg_restoring;
    lock.unlock();
    if (options_.gate) options_.gate->wait_for_turn(ForegroundGate::kMaxDefer);
    auto vm = factory_->restore(spec);
    lock.lock();
    --e->restoring;
    --e->bg_restoring;
    if (!vm.ok()) {
      mem_held_ -= spec.mem_mib;
      ++e->counters.failures;
      ++e->counters.consecutive_failures;
      e->counters.last_error = vm.error().message();
      e->retry_after = Clock::now() + backoff(e->counters.consecutive_failures);
      continue;
    }
    ++e->counters.restored;
    e->counters.consecutive_failures = 0;
    e->vms.push_back(IdleVm{std::move(vm).value(), spec.mem_mib, false, {}});
    changed_.notify_all();
    // Dropped by the next housekeeping if the snapshot went idle, was removed or shrank.
  }
}

size_t VmPool::tracked_snapshots() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

PoolStats VmPool::stats() const {
  std::lock_guard lock(mu_);
  PoolStats stats;
  stats.mem_mib_held = mem_held_;
  for (const auto& [key, e] : entries_) {
    if (e->removed) continue;
    SnapshotPoolStats s = e->counters;
    s.target = e->target;
    s.ready = e->ready();
    s.warm = e->vms.size() - s.ready;
    s.leased = e->leased;
    s.restoring = e->restoring;
    s.idle = e->idle;
    stats.snapshots[key] = std::move(s);
  }
  return stats;
}

}  // namespace ember::host
