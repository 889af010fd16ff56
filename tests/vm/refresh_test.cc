// End-to-end: clones of one snapshot refreshed apart, and the ready pool over real restores.
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>

#include "host/pool.h"
#include "host/restored_vm.h"
#include "host/standby_vmm.h"
#include "host/vm_control.h"
#include "tests/vm/guest_vm.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMemMib = 256;
// Restore, connect and Refresh inside the (slow, emulated) KVM test host.
constexpr milliseconds kRestoreTimeout{120'000};

double unix_now() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

Result<ExecResult> run(host::PooledVm& vm, std::vector<std::string> argv) {
  ExecRequest request;
  request.argv = std::move(argv);
  request.env = {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/root"};
  request.timeout_ms = 60'000;
  return vm.agent().exec(request);
}

// One booted VM snapshotted once; its original is shut down and only clones run after.
class SnapshotClones : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string("/tmp/ember-refresh-test-" + std::to_string(::getpid()));
    fs::remove_all(*dir_);
    host::VmConfig config;
    config.mem_mib = kMemMib;
    auto vm = GuestVm::start(config, /*api_sock=*/true);
    ASSERT_TRUE(vm.ok()) << vm.error().message();
    auto ready = vm->wait_ready();
    ASSERT_TRUE(ready.ok()) << ready.error().message();
    // Python's files in the page cache: clones start it without reading the disk again.
    ASSERT_TRUE(vm->run({"python3", "-c", "import os, time"}).ok());
    auto reply = vm->control(R"({"op":"pause"})");
    ASSERT_TRUE(reply.ok()) << reply.error().message();
    ASSERT_EQ(*reply, R"({"ok":true})");
    reply = vm->control(R"({"op":"snapshot","dir":")" + *dir_ + "\"}");
    ASSERT_TRUE(reply.ok()) << reply.error().message();
    ASSERT_EQ(*reply, R"({"ok":true})") << vm->process().stderr_output();
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr) fs::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }

  static host::SnapshotSpec spec() { return host::SnapshotSpec{*dir_, kMemMib, {}}; }
  static host::RestoredVmOptions options() {
    host::RestoredVmOptions o;
    o.vmm_path = GuestArtifacts::find().vmm;
    o.ready_timeout = kRestoreTimeout;
    return o;
  }

  // Waits for count ready VMs; gives up early once restores keep failing.
  static bool wait_ready_or_failing(host::VmPool& pool, size_t count) {
    const auto deadline = Clock::now() + 2 * kRestoreTimeout;
    while (Clock::now() < deadline) {
      if (pool.wait_ready(*dir_, count, seconds(1))) return true;
      if (pool.stats().snapshots[*dir_].consecutive_failures >= 2) return false;
    }
    return false;
  }

  static std::string* dir_;
};
std::string* SnapshotClones::dir_ = nullptr;

TEST_F(SnapshotClones, RefreshedClonesDivergeAndTellTheTime) {
  ASSERT_NE(dir_, nullptr);
  std::vector<std::unique_ptr<host::RestoredVm>> clones;
  for (int i = 0; i < 2; ++i) {
    auto vm = host::RestoredVm::restore(spec(), options());  // sends Refresh
    ASSERT_TRUE(vm.ok()) << vm.error().message();
    clones.push_back(std::move(vm).value());
  }
  std::vector<std::string> random;
  for (auto& clone : clones) {
    auto r = run(*clone, {"python3", "-c", "import os;print(os.urandom(16).hex())"});
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_EQ(r->exit_code, 0) << r->stderr_data;
    EXPECT_EQ(r->stdout_data.size(), 33u) << r->stdout_data;
    random.push_back(r->stdout_data);
  }
  EXPECT_NE(random[0], random[1]);

  for (auto& clone : clones) {
    const double before = unix_now();
    auto r = run(*clone, {"python3", "-c", "import time;print(time.time())"});
    const double after = unix_now();
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_EQ(r->exit_code, 0) << r->stderr_data;
    const double guest = std::stod(r->stdout_data);
    // The guest read its clock while the host waited: within 1 s of that window.
    EXPECT_GE(guest, before - 1.0) << "guest " << r->stdout_data << "host " << before;
    EXPECT_LE(guest, after + 1.0) << "guest " << r->stdout_data << "host " << after;
  }
}

TEST_F(SnapshotClones, PoolHandsOutAWorkingVmAtOnce) {
  ASSERT_NE(dir_, nullptr);
  host::VmPool pool(std::make_unique<host::RestoredVmFactory>(options()),
                    host::PoolOptions{.max_mem_mib = 4 * kMemMib});
  pool.ensure(spec(), 2);
  ASSERT_TRUE(wait_ready_or_failing(pool, 2)) << pool.stats().snapshots[*dir_].last_error;
  const auto start = Clock::now();
  auto lease = pool.acquire(spec());
  const auto took = Clock::now() - start;
  ASSERT_TRUE(lease.ok()) << lease.error().message();
  EXPECT_TRUE(lease->hit());
  EXPECT_LT(took, milliseconds(100));

  auto r = run(lease->vm(), {"sh", "-c", "echo pooled; cat /proc/sys/kernel/random/boot_id"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_data.substr(0, 7), "pooled\n");
  auto stats = pool.stats().snapshots.at(*dir_);
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.failures, 0u) << stats.last_error;
  lease->release(false);
  ASSERT_TRUE(wait_ready_or_failing(pool, 2)) << pool.stats().snapshots[*dir_].last_error;
}

TEST_F(SnapshotClones, StandbyVmmRestoresOnRequestAfterABadOne) {
  ASSERT_NE(dir_, nullptr);
  const std::string run_dir = "/tmp";
  auto standby = host::spawn_standby_vmm(GuestArtifacts::find().vmm, run_dir, {});
  ASSERT_TRUE(standby.ok()) << standby.error().message();
  // Any other request is refused, and the standby VMM keeps waiting.
  auto other = host::vm_control_request(standby->files.api_sock, R"({"op":"stats"})", kRestoreTimeout);
  ASSERT_TRUE(other.ok()) << other.error().message();
  EXPECT_NE(other->find("takes only"), std::string::npos) << *other;
  // A snapshot that does not exist is refused with its path, and that VMM exits.
  Status bad = host::restore_on_standby(*standby, *dir_ + "-missing", {}, kRestoreTimeout);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("-missing"), std::string::npos) << bad.error().message();
  auto code = standby->process.wait_for(kRestoreTimeout);
  ASSERT_TRUE(code.ok() && code->has_value());
  EXPECT_EQ(**code, 1);
  // One from a stock restores the real snapshot.
  host::RestoredVmOptions o = options();
  o.standby = std::make_shared<host::StandbyStock>(o.vmm_path, run_dir, 1);
  auto vm = host::RestoredVm::restore(spec(), o);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  auto r = run(**vm, {"sh", "-c", "echo from-standby"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->stdout_data, "from-standby\n");
  auto stats = host::vm_control_request((*vm)->api_socket(), R"({"op":"stats"})", kRestoreTimeout);
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_NE(stats->find("\"state\":\"running\""), std::string::npos) << *stats;
}

}  // namespace
}  // namespace ember::test
