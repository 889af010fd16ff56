// VmPool: the per-snapshot ready lists, the refill worker, the memory cap and idle reaping.
#include "host/pool.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>

namespace ember::host {

struct VmPool::Entry {
  SnapshotSpec spec;
  size_t target = 0;
  std::deque<ReadyVm> ready;  // front first out: warm VMs given back go there
  size_t leased = 0;
  size_t restoring = 0;     // on demand and background
  size_t bg_restoring = 0;  // background only: counts toward the target
  Clock::time_point last_acquire;
  Clock::time_point retry_after;  // background restores wait until then after a failure
  Clock::time_point next_health_check;
  bool idle = false;
  bool removed = false;
  SnapshotPoolStats counters;
};

Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      key_(std::move(other.key_)),
      vm_(std::move(other.vm_)),
      mem_mib_(other.mem_mib_),
      hit_(other.hit_) {}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release(false);
    pool_ = std::exchange(other.pool_, nullptr);
    key_ = std::move(other.key_);
    vm_ = std::move(other.vm_);
    mem_mib_ = other.mem_mib_;
    hit_ = other.hit_;
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
  entries_.clear();  // destroys every ready VM
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
  e.target = 0;
  while (!e.ready.empty()) {
    doom(std::move(e.ready.front()), doomed);
    e.ready.pop_front();
  }
  lock.unlock();
  wake_.notify_all();  // memory was freed: other snapshots may refill
}

void VmPool::doom(ReadyVm ready, Doomed& doomed) {
  mem_held_ -= ready.mem_mib;
  doomed.push_back(std::move(ready.vm));
}

bool VmPool::make_room(const std::string& key, uint64_t mem_mib, Doomed& doomed) {
  // Evict nothing unless evicting is enough.
  uint64_t evictable = 0;
  for (const auto& [k, e] : entries_) {
    if (k == key) continue;
    for (const ReadyVm& ready : e->ready) evictable += ready.mem_mib;
  }
  if (mem_held_ - evictable + mem_mib > options_.max_mem_mib) return false;
  while (mem_held_ + mem_mib > options_.max_mem_mib) {
    // The least recently acquired other snapshot with a ready VM gives one up.
    Entry* victim = nullptr;
    for (auto& [k, e] : entries_) {
      if (k == key || e->ready.empty()) continue;
      if (victim == nullptr || e->last_acquire < victim->last_acquire) victim = e.get();
    }
    if (victim == nullptr) return false;
    doom(std::move(victim->ready.back()), doomed);
    victim->ready.pop_back();
  }
  return true;
}

Result<Lease> VmPool::acquire(const SnapshotSpec& spec) {
  Doomed doomed;
  std::unique_lock lock(mu_);
  Entry& e = entry_for(spec, options_.default_ready, Clock::now());
  while (!e.ready.empty()) {
    ReadyVm ready = std::move(e.ready.front());
    e.ready.pop_front();
    if (!ready.vm->alive()) {
      doom(std::move(ready), doomed);
      continue;
    }
    ++e.leased;
    ++e.counters.hits;
    lock.unlock();
    wake_.notify_all();  // refill behind the VM just taken
    return Lease(this, spec.dir, std::move(ready.vm), ready.mem_mib, true);
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
  return Lease(this, spec.dir, std::move(vm).value(), spec.mem_mib, false);
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
    if (keep_warm && e != nullptr && !e->removed && !e->idle && e->ready.size() < e->target &&
        vm->alive()) {
      e->ready.push_front(ReadyVm{std::move(vm), mem_mib});
      changed_.notify_all();
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
    return it != entries_.end() && it->second->ready.size() >= count;
  });
}

VmPool::Entry* VmPool::pick_refill(Clock::time_point now) {
  // Memory freed for a refused on-demand request (its caller evicts warm VMs and retries)
  // must not go to a background refill first.
  if (now < demand_first_until_) return nullptr;
  Entry* best = nullptr;
  for (auto& [key, e] : entries_) {
    if (e->idle || e->removed || now < e->retry_after) continue;
    if (e->ready.size() + e->bg_restoring >= e->target) continue;
    if (mem_held_ + e->spec.mem_mib > options_.max_mem_mib) continue;
    if (best == nullptr || e->ready.size() < best->ready.size()) best = e.get();
  }
  return best;
}

VmPool::Clock::time_point VmPool::housekeeping(Clock::time_point now, Doomed& doomed) {
  Clock::time_point next = now + options_.health_interval;
  for (auto& [key, e] : entries_) {
    if (!e->removed && !e->idle && now - e->last_acquire >= options_.idle_timeout) e->idle = true;
    // A removed snapshot keeps no VM, not even one whose restore ended after the remove.
    if (e->removed || e->idle) {
      while (!e->ready.empty()) {
        doom(std::move(e->ready.front()), doomed);
        e->ready.pop_front();
      }
      continue;
    }
    next = std::min(next, e->last_acquire + options_.idle_timeout);
    if (now >= e->next_health_check) {
      e->next_health_check = now + options_.health_interval;
      for (auto it = e->ready.begin(); it != e->ready.end();) {
        if (it->vm->alive()) {
          ++it;
        } else {
          doom(std::move(*it), doomed);
          it = e->ready.erase(it);
        }
      }
    }
    while (e->ready.size() > e->target) {  // the target was lowered
      doom(std::move(e->ready.back()), doomed);
      e->ready.pop_back();
    }
    if (e->ready.size() + e->bg_restoring < e->target && now < e->retry_after) {
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
    e->ready.push_back(ReadyVm{std::move(vm).value(), spec.mem_mib});
    changed_.notify_all();
    // Dropped by the next housekeeping if the snapshot went idle, was removed or shrank.
  }
}

PoolStats VmPool::stats() const {
  std::lock_guard lock(mu_);
  PoolStats stats;
  stats.mem_mib_held = mem_held_;
  for (const auto& [key, e] : entries_) {
    if (e->removed) continue;
    SnapshotPoolStats s = e->counters;
    s.target = e->target;
    s.ready = e->ready.size();
    s.leased = e->leased;
    s.restoring = e->restoring;
    s.idle = e->idle;
    stats.snapshots[key] = std::move(s);
  }
  return stats;
}

}  // namespace ember::host
