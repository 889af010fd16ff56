// Tests for VmPool's policies with a fake factory: hits, on demand, refill, cap, idle, failures.
#include "host/pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <optional>
#include <vector>

namespace ember::host {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// What the fake factory did, shared with its VMs and the test.
struct FakeState {
  std::mutex mu;
  milliseconds delay{0};
  int fail_next = 0;  // this many upcoming restores fail
  int restores = 0;   // successful
  int live = 0;
  int destroyed = 0;
  int next_id = 0;
  std::vector<Clock::time_point> attempts;
  std::vector<std::atomic<bool>*> dead_flags;  // of every VM made, for the test to kill
};

class FakeVm : public PooledVm {
 public:
  // Called with state->mu held.
  FakeVm(std::shared_ptr<FakeState> state, int id) : state_(std::move(state)), id_(id) {
    state_->dead_flags.push_back(&dead);
  }
  ~FakeVm() override {
    std::lock_guard lock(state_->mu);
    std::erase(state_->dead_flags, &dead);
    --state_->live;
    ++state_->destroyed;
  }
  AgentSession& agent() override { return session_; }
  VmProcess& process() override { std::abort(); }  // the pool never needs it
  bool alive() override { return !dead; }

  std::atomic<bool> dead{false};
  int id() const { return id_; }

 private:
  std::shared_ptr<FakeState> state_;
  int id_;
  AgentSession session_ = AgentSession::adopt(UniqueFd());
};

class FakeFactory : public VmFactory {
 public:
  explicit FakeFactory(std::shared_ptr<FakeState> state) : state_(std::move(state)) {}
  Result<std::unique_ptr<PooledVm>> restore(const SnapshotSpec& spec) override {
    milliseconds delay;
    {
      std::lock_guard lock(state_->mu);
      state_->attempts.push_back(Clock::now());
      delay = state_->delay;
    }
    std::this_thread::sleep_for(delay);
    std::lock_guard lock(state_->mu);
    if (state_->fail_next > 0) {
      --state_->fail_next;
      return make_error("fake restore", "snapshot " + spec.dir + " is broken");
    }
    ++state_->restores;
    ++state_->live;
    return std::unique_ptr<PooledVm>(new FakeVm(state_, state_->next_id++));
  }

 private:
  std::shared_ptr<FakeState> state_;
};

class PoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<VmPool> make_pool(PoolOptions options = {}) {
    return std::make_unique<VmPool>(std::make_unique<FakeFactory>(state_), options);
  }
  int count(int FakeState::*field) {
    std::lock_guard lock(state_->mu);
    return (*state_).*field;
  }
  void kill_all() {
    std::lock_guard lock(state_->mu);
    for (auto* dead : state_->dead_flags) *dead = true;
  }
  static int id_of(Lease& lease) { return static_cast<FakeVm&>(lease.vm()).id(); }
  // A VM made outside the pool, as a boot makes one.
  std::unique_ptr<PooledVm> booted_vm(int id) {
    std::lock_guard lock(state_->mu);
    ++state_->live;
    return std::make_unique<FakeVm>(state_, id);
  }

  std::shared_ptr<FakeState> state_ = std::make_shared<FakeState>();
  const SnapshotSpec a_{"/snap/a", 128, {}};
  const SnapshotSpec b_{"/snap/b", 128, {}};
};

TEST_F(PoolTest, ReadyVmIsHandedOutWithoutWaiting) {
  state_->delay = milliseconds(200);
  auto pool = make_pool();
  pool->ensure(a_, 2);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 2, milliseconds(5000)));
  auto start = Clock::now();
  auto lease = pool->acquire(a_);
  ASSERT_TRUE(lease.ok()) << lease.error().message();
  EXPECT_LT(Clock::now() - start, milliseconds(50));  // far below one restore
  EXPECT_TRUE(lease->hit());
  EXPECT_EQ(pool->stats().snapshots.at(a_.dir).hits, 1u);
}

TEST_F(PoolTest, EmptyPoolRestoresOnDemandThenRefills) {
  state_->delay = milliseconds(100);
  auto pool = make_pool(PoolOptions{.default_ready = 1});
  auto start = Clock::now();
  auto lease = pool->acquire(a_);  // never seen: nothing ready
  ASSERT_TRUE(lease.ok()) << lease.error().message();
  EXPECT_GE(Clock::now() - start, milliseconds(100));
  EXPECT_FALSE(lease->hit());
  ASSERT_TRUE(pool->wait_ready(a_.dir, 1, milliseconds(5000)));  // default_ready kept from now
  auto stats = pool->stats().snapshots.at(a_.dir);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.target, 1u);
  EXPECT_EQ(count(&FakeState::restores), 2);
}

TEST_F(PoolTest, BackgroundRestoresWaitForTheColdStartInProgress) {
  auto gate = std::make_shared<ForegroundGate>();
  auto pool = make_pool(PoolOptions{.gate = gate});
  std::optional<ForegroundGate::Scope> cold_start(gate->enter());
  pool->ensure(a_, 1);
  EXPECT_FALSE(pool->wait_ready(a_.dir, 1, milliseconds(300)));  // held back
  EXPECT_EQ(count(&FakeState::restores), 0);
  cold_start.reset();
  EXPECT_TRUE(pool->wait_ready(a_.dir, 1, milliseconds(5000)));
}

TEST_F(PoolTest, AColdStartThatNeverEndsDelaysTheRefillButDoesNotStarveIt) {
  auto gate = std::make_shared<ForegroundGate>();
  auto pool = make_pool(PoolOptions{.gate = gate});
  auto cold_start = gate->enter();
  const auto start = Clock::now();
  pool->ensure(a_, 1);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 1, ForegroundGate::kMaxDefer + milliseconds(5000)));
  EXPECT_GE(Clock::now() - start, ForegroundGate::kMaxDefer - milliseconds(50));
}

TEST_F(PoolTest, RefillsToNAndDestroysAfterUse) {
  auto pool = make_pool();
  pool->ensure(a_, 3);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 3, milliseconds(5000)));
  EXPECT_EQ(count(&FakeState::restores), 3);
  {
    auto lease = pool->acquire(a_);
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE(pool->wait_ready(a_.dir, 3, milliseconds(5000)));  // refilled behind it
    EXPECT_EQ(count(&FakeState::restores), 4);
    EXPECT_EQ(pool->stats().snapshots.at(a_.dir).leased, 1u);
  }  // the lease ends: that VM is destroyed, not reused
  EXPECT_EQ(count(&FakeState::destroyed), 1);
  std::this_thread::sleep_for(milliseconds(100));
  auto stats = pool->stats();
  EXPECT_EQ(stats.snapshots.at(a_.dir).ready, 3u);
  EXPECT_EQ(stats.snapshots.at(a_.dir).leased, 0u);
  EXPECT_EQ(stats.mem_mib_held, 3u * 128);
  EXPECT_EQ(count(&FakeState::restores), 4);
}

TEST_F(PoolTest, AWarmVmIsKeptBesideTheReadyOnesAndHandedOutFirst) {
  auto pool = make_pool();
  pool->ensure(a_, 1);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 1, milliseconds(5000)));
  auto lease = pool->acquire(a_);
  ASSERT_TRUE(lease.ok());
  EXPECT_FALSE(lease->warm());
  const int id = id_of(*lease);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 1, milliseconds(5000)));  // refilled behind it
  lease->release(true);  // kept warm although the ready list is full
  EXPECT_EQ(count(&FakeState::destroyed), 0);
  auto stats = pool->stats().snapshots.at(a_.dir);
  EXPECT_EQ(stats.ready, 1u);
  EXPECT_EQ(stats.warm, 1u);

  auto again = pool->acquire(a_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->hit());
  EXPECT_TRUE(again->warm());
  EXPECT_EQ(id_of(*again), id);
  again->release(true);
  auto warm = pool->take_warm(a_.dir);
  ASSERT_TRUE(warm.has_value());
  EXPECT_EQ(id_of(*warm), id);
  EXPECT_FALSE(pool->take_warm(a_.dir).has_value());  // a ready VM is not warm
  EXPECT_FALSE(pool->take_warm(b_.dir).has_value());
}

TEST_F(PoolTest, AnAdoptedVmCountsAgainstTheCapAndIsKeptWarm) {
  auto pool = make_pool(PoolOptions{.max_mem_mib = 256});
  auto charge = pool->charge(128);
  ASSERT_TRUE(charge.ok());
  Lease lease = pool->adopt(a_, booted_vm(99), std::move(charge).value());
  EXPECT_FALSE(lease.warm());
  EXPECT_EQ(pool->stats().mem_mib_held, 128u);
  EXPECT_EQ(pool->stats().snapshots.at(a_.dir).target, 0u);  // adopting asks for no ready VMs
  lease.release(true);
  EXPECT_EQ(pool->stats().mem_mib_held, 128u);
  auto warm = pool->take_warm(a_.dir);
  ASSERT_TRUE(warm.has_value());
  EXPECT_EQ(id_of(*warm), 99);
  warm->release(false);
  EXPECT_EQ(pool->stats().mem_mib_held, 0u);
  EXPECT_EQ(count(&FakeState::live), 0);
}

TEST_F(PoolTest, AVmAdoptedForARemovedSnapshotIsDestroyedWhenReleased) {
  auto pool = make_pool();
  pool->ensure(a_, 0);
  pool->remove(a_.dir);
  auto charge = pool->charge(128);
  ASSERT_TRUE(charge.ok());
  Lease lease = pool->adopt(a_, booted_vm(7), std::move(charge).value());
  lease.release(true);
  EXPECT_EQ(count(&FakeState::live), 0);
  EXPECT_EQ(pool->stats().mem_mib_held, 0u);
}

TEST_F(PoolTest, AtTheCapTheLeastRecentlyUsedIdleVmGoesWarmOrReady) {
  // Room for three: a's ready VM, then b's warm VM, then c's warm VM were last used in that
  // order; a fourth VM evicts a's first, then b's.
  const SnapshotSpec c{"/snap/c", 128, {}};
  auto pool = make_pool(PoolOptions{.max_mem_mib = 3 * 128});
  pool->ensure(a_, 1);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 1, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(5));
  for (const SnapshotSpec* spec : {&b_, &c}) {
    pool->ensure(*spec, 0);
    auto lease = pool->acquire(*spec);
    ASSERT_TRUE(lease.ok());
    lease->release(true);
    std::this_thread::sleep_for(milliseconds(5));
  }
  const SnapshotSpec d{"/snap/d", 128, {}};
  pool->ensure(d, 0);
  auto first = pool->acquire(d);
  ASSERT_TRUE(first.ok()) << first.error().message();
  auto stats = pool->stats();
  EXPECT_EQ(stats.snapshots.at(a_.dir).ready, 0u);
  EXPECT_EQ(stats.snapshots.at(b_.dir).warm, 1u);
  EXPECT_EQ(stats.snapshots.at(c.dir).warm, 1u);
  auto second = pool->acquire(d);
  ASSERT_TRUE(second.ok()) << second.error().message();
  stats = pool->stats();
  EXPECT_EQ(stats.snapshots.at(b_.dir).warm, 0u);
  EXPECT_EQ(stats.snapshots.at(c.dir).warm, 1u);
}

TEST_F(PoolTest, AWarmVmUnusedForTheIdleTimeoutIsDestroyed) {
  auto pool = make_pool(PoolOptions{.idle_timeout = milliseconds(300),
                                    .health_interval = milliseconds(20)});
  pool->ensure(a_, 0);
  auto lease = pool->acquire(a_);
  ASSERT_TRUE(lease.ok());
  lease->release(true);
  EXPECT_EQ(pool->stats().snapshots.at(a_.dir).warm, 1u);
  const auto deadline = Clock::now() + milliseconds(5000);
  while (count(&FakeState::live) > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(count(&FakeState::live), 0);
  EXPECT_EQ(pool->stats().mem_mib_held, 0u);
}

TEST_F(PoolTest, RefillStopsAtTheMemoryCapAndOnDemandFailsBeyondIt) {
  auto pool = make_pool(PoolOptions{.max_mem_mib = 300});
  pool->ensure(a_, 5);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 2, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(count(&FakeState::restores), 2);
  EXPECT_EQ(pool->stats().mem_mib_held, 256u);

  auto first = pool->acquire(a_);
  auto second = pool->acquire(a_);
  ASSERT_TRUE(first.ok() && second.ok());
  auto start = Clock::now();
  auto third = pool->acquire(a_);
  ASSERT_FALSE(third.ok());
  EXPECT_LT(Clock::now() - start, milliseconds(50));  // fails, does not wait
  EXPECT_EQ(third.error().code, EAGAIN);
  EXPECT_NE(third.error().message().find("memory cap"), std::string::npos);
  EXPECT_EQ(count(&FakeState::restores), 2);

  first->release(false);  // frees 128 MiB: the refill resumes up to the cap
  ASSERT_TRUE(pool->wait_ready(a_.dir, 1, milliseconds(5000)));
  EXPECT_LE(pool->stats().mem_mib_held, 300u);
}

TEST_F(PoolTest, OnDemandRestoreEvictsReadyVmsOfOtherSnapshots) {
  auto pool = make_pool(PoolOptions{.max_mem_mib = 256});
  pool->ensure(a_, 2);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 2, milliseconds(5000)));
  pool->ensure(b_, 0);  // b: on demand only
  auto lease = pool->acquire(b_);
  ASSERT_TRUE(lease.ok()) << lease.error().message();
  auto stats = pool->stats();
  EXPECT_EQ(stats.snapshots.at(a_.dir).ready, 1u);
  EXPECT_EQ(stats.mem_mib_held, 256u);
  EXPECT_EQ(count(&FakeState::destroyed), 1);

  // Evicting a's last ready VM would not make room for 512 MiB: a keeps it.
  auto again = pool->acquire(SnapshotSpec{"/snap/big", 512, {}});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EAGAIN);
  EXPECT_EQ(pool->stats().snapshots.at(a_.dir).ready, 1u);
  EXPECT_EQ(count(&FakeState::destroyed), 1);
}

TEST_F(PoolTest, ChargedMemoryCountsAgainstTheCapUntilReleased) {
  auto pool = make_pool(PoolOptions{.default_ready = 0, .max_mem_mib = 256});
  auto booted = pool->charge(200);  // a VM booted outside the pool
  ASSERT_TRUE(booted.ok()) << booted.error().message();
  EXPECT_EQ(pool->stats().mem_mib_held, 200u);
  auto lease = pool->acquire(a_);
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.error().code, EAGAIN);
  auto more = pool->charge(100);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.error().code, EAGAIN);
  EXPECT_NE(more.error().message().find("memory cap"), std::string::npos);

  { MemoryCharge gone = std::move(booted).value(); }
  EXPECT_EQ(pool->stats().mem_mib_held, 0u);
  lease = pool->acquire(a_);
  EXPECT_TRUE(lease.ok()) << lease.error().message();
}

TEST_F(PoolTest, ChargeEvictsReadyVmsToMakeRoom) {
  auto pool = make_pool(PoolOptions{.max_mem_mib = 256});
  pool->ensure(a_, 2);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 2, milliseconds(5000)));
  auto charge = pool->charge(128);
  ASSERT_TRUE(charge.ok()) << charge.error().message();
  EXPECT_EQ(pool->stats().snapshots.at(a_.dir).ready, 1u);
  EXPECT_EQ(pool->stats().mem_mib_held, 256u);
  EXPECT_EQ(count(&FakeState::destroyed), 1);
  std::this_thread::sleep_for(milliseconds(200));  // the cap keeps the refill from replacing it
  EXPECT_EQ(pool->stats().snapshots.at(a_.dir).ready, 1u);
}

TEST_F(PoolTest, ARefusedDemandHoldsBackTheRefillUntilOneGetsRoom) {
  // (Or for a second; the test retries well within it.)
  auto pool = make_pool(PoolOptions{.max_mem_mib = 256});
  std::optional<MemoryCharge> booted;
  {
    auto c = pool->charge(200);
    ASSERT_TRUE(c.ok());
    booted.emplace(std::move(c).value());
  }
  pool->ensure(a_, 1);  // 200 + 128 > 256: no refill yet
  ASSERT_FALSE(pool->charge(100).ok());
  booted.reset();  // room now, but it is the refused caller's to retry for
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(count(&FakeState::restores), 0);
  auto retried = pool->charge(100);
  ASSERT_TRUE(retried.ok()) << retried.error().message();
  EXPECT_TRUE(pool->wait_ready(a_.dir, 1, milliseconds(5000)));  // the refill goes on
}

TEST_F(PoolTest, IdleSnapshotIsReapedAndNotRefilledUntilAcquired) {
  auto pool = make_pool(PoolOptions{.idle_timeout = milliseconds(200)});
  pool->ensure(a_, 2);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 2, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(500));
  auto stats = pool->stats().snapshots.at(a_.dir);
  EXPECT_TRUE(stats.idle);
  EXPECT_EQ(stats.ready, 0u);
  EXPECT_EQ(count(&FakeState::destroyed), 2);
  EXPECT_EQ(count(&FakeState::restores), 2);
  EXPECT_EQ(pool->stats().mem_mib_held, 0u);

  auto lease = pool->acquire(a_);  // demand wakes it: on demand, then refilled
  ASSERT_TRUE(lease.ok());
  EXPECT_FALSE(lease->hit());
  ASSERT_TRUE(pool->wait_ready(a_.dir, 2, milliseconds(5000)));
  EXPECT_FALSE(pool->stats().snapshots.at(a_.dir).idle);
}

TEST_F(PoolTest, FailuresAreSurfacedAndRetriedWithBackoff) {
  state_->fail_next = 3;
  auto pool = make_pool(PoolOptions{.backoff_initial = milliseconds(50)});
  pool->ensure(a_, 1);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 1, milliseconds(5000)));
  std::vector<Clock::time_point> attempts;
  {
    std::lock_guard lock(state_->mu);
    attempts = state_->attempts;
  }
  ASSERT_EQ(attempts.size(), 4u);
  for (size_t i = 1; i < attempts.size(); ++i) {  // 50, 100, 200 ms
    EXPECT_GE(attempts[i] - attempts[i - 1], milliseconds(50 << (i - 1)) - milliseconds(5)) << i;
  }
  auto stats = pool->stats().snapshots.at(a_.dir);
  EXPECT_EQ(stats.failures, 3u);
  EXPECT_EQ(stats.consecutive_failures, 0u);
  EXPECT_NE(stats.last_error.find("snapshot /snap/a is broken"), std::string::npos);

  state_->fail_next = 1;
  pool->ensure(b_, 0);
  auto lease = pool->acquire(b_);
  ASSERT_FALSE(lease.ok());
  EXPECT_NE(lease.error().message().find("on demand"), std::string::npos);
  EXPECT_NE(lease.error().message().find("snapshot /snap/b is broken"), std::string::npos);
}

TEST_F(PoolTest, FailingSnapshotKeepsReportingItsError) {
  state_->fail_next = 1'000'000;
  auto pool =
      make_pool(PoolOptions{.backoff_initial = milliseconds(20), .backoff_max = milliseconds(80)});
  pool->ensure(a_, 1);
  std::this_thread::sleep_for(milliseconds(500));
  auto stats = pool->stats().snapshots.at(a_.dir);
  // 20, 40, 80, 80, ... ms: a handful of attempts, neither one nor a spin.
  EXPECT_GE(stats.consecutive_failures, 4u);
  EXPECT_LE(stats.consecutive_failures, 12u);
  EXPECT_NE(stats.last_error.find("broken"), std::string::npos);
  EXPECT_EQ(stats.ready, 0u);
}

TEST_F(PoolTest, DeadReadyVmsAreReplacedByTheHealthCheck) {
  auto pool = make_pool(PoolOptions{.health_interval = milliseconds(50)});
  pool->ensure(a_, 1);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 1, milliseconds(5000)));
  kill_all();
  auto deadline = Clock::now() + milliseconds(5000);
  while (count(&FakeState::restores) < 2 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_TRUE(pool->wait_ready(a_.dir, 1, milliseconds(5000)));
  EXPECT_EQ(count(&FakeState::destroyed), 1);
  EXPECT_EQ(count(&FakeState::live), 1);
}

TEST_F(PoolTest, AcquireSkipsADeadVmAndRefusesItWarm) {
  auto pool = make_pool(PoolOptions{.health_interval = milliseconds(60'000)});
  pool->ensure(a_, 1);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 1, milliseconds(5000)));
  kill_all();
  auto lease = pool->acquire(a_);
  ASSERT_TRUE(lease.ok());
  EXPECT_FALSE(lease->hit());  // the dead ready VM was dropped, a new one restored
  EXPECT_EQ(count(&FakeState::destroyed), 1);

  static_cast<FakeVm&>(lease->vm()).dead = true;
  lease->release(true);  // dead: destroyed even though warm was asked
  EXPECT_EQ(count(&FakeState::destroyed), 2);
}

TEST_F(PoolTest, ShutdownDestroysEverythingEvenMidRestore) {
  {
    auto pool = make_pool();
    pool->ensure(a_, 2);
    pool->ensure(b_, 2);
    ASSERT_TRUE(pool->wait_ready(a_.dir, 2, milliseconds(5000)));
    ASSERT_TRUE(pool->wait_ready(b_.dir, 2, milliseconds(5000)));
    state_->delay = milliseconds(300);
    auto lease = pool->acquire(a_);  // the refill starts a slow restore
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(count(&FakeState::live), 0);
  EXPECT_EQ(count(&FakeState::destroyed), count(&FakeState::restores));
}

TEST_F(PoolTest, ConcurrentAcquireAndRelease) {
  auto pool = make_pool(PoolOptions{.max_mem_mib = 128 * 64});
  pool->ensure(a_, 4);
  std::vector<std::future<int>> workers;
  for (int t = 0; t < 8; ++t) {
    workers.push_back(std::async(std::launch::async, [&, t] {
      int ok = 0;
      for (int i = 0; i < 25; ++i) {
        auto lease = pool->acquire((t + i) % 2 ? a_ : b_);
        if (lease.ok()) ++ok;
        if (lease.ok() && i % 3 == 0) lease->release(true);
      }
      return ok;
    }));
  }
  for (auto& w : workers) EXPECT_EQ(w.get(), 25);
  auto stats = pool->stats();
  EXPECT_EQ(stats.snapshots.at(a_.dir).leased + stats.snapshots.at(b_.dir).leased, 0u);
  EXPECT_EQ(stats.snapshots.at(a_.dir).hits + stats.snapshots.at(a_.dir).misses +
                stats.snapshots.at(b_.dir).hits + stats.snapshots.at(b_.dir).misses,
            200u);
  pool.reset();
  EXPECT_EQ(count(&FakeState::live), 0);
}

TEST_F(PoolTest, RemoveDestroysReadyVmsAndStopsRefill) {
  auto pool = make_pool();
  pool->ensure(a_, 2);
  ASSERT_TRUE(pool->wait_ready(a_.dir, 2, milliseconds(5000)));
  pool->remove(a_.dir);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(count(&FakeState::live), 0);
  EXPECT_EQ(pool->stats().snapshots.count(a_.dir), 0u);
  EXPECT_EQ(count(&FakeState::restores), 2);
}

TEST_F(PoolTest, AVmRestoredWhileItsSnapshotIsRemovedIsDestroyed) {
  auto pool = make_pool();
  state_->delay = milliseconds(300);
  pool->ensure(a_, 1);
  std::this_thread::sleep_for(milliseconds(100));  // the refill is restoring
  {
    std::lock_guard lock(state_->mu);
    ASSERT_EQ(state_->attempts.size(), 1u);
    ASSERT_EQ(state_->restores, 0);
  }
  pool->remove(a_.dir);
  std::this_thread::sleep_for(milliseconds(500));  // it ends after the remove
  EXPECT_EQ(count(&FakeState::restores), 1);
  EXPECT_EQ(count(&FakeState::live), 0);
  EXPECT_EQ(count(&FakeState::destroyed), 1);
}

TEST_F(PoolTest, ARemovedSnapshotsEntryGoesWithItsLastVmAfterAnIdleTimeout) {
  auto pool = make_pool(PoolOptions{.idle_timeout = milliseconds(500)});
  auto lease = pool->acquire(a_);
  ASSERT_TRUE(lease.ok()) << lease.error().message();
  ASSERT_TRUE(pool->acquire(b_).ok());
  ASSERT_EQ(pool->tracked_snapshots(), 2u);
  pool->remove(a_.dir);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(pool->tracked_snapshots(), 2u);  // a's VM is still leased
  lease->release(true);
  const auto deadline = Clock::now() + milliseconds(5000);
  while (pool->tracked_snapshots() > 1 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(pool->tracked_snapshots(), 1u);  // a retired revision leaves nothing behind
  EXPECT_GE(count(&FakeState::destroyed), 1);  // a's VM, given back after the remove
}

}  // namespace
}  // namespace ember::host
