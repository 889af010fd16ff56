// emberd's side of the jail, and (as root) the real ember-jailer around a static busybox:
// identity, capabilities, namespaces, the root's contents, FSIZE and NOFILE.
#include "host/jail/vm_jail.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "host/vm_client.h"

namespace ember::host::jail {
namespace {
namespace fs = std::filesystem;

constexpr const char* kBusybox = "/bin/busybox";  // static: runs alone in a jail

class VmJailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (the jailer mounts and changes uid)";
    dir_ = fs::temp_directory_path() / ("ember-jail-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    JailOptions options;
    options.enabled = true;
    options.jailer_path = EMBER_JAILER_BIN;
    options.uids = {910000, 910009};
    options.base_dir = (dir_ / "jail").string();
    auto jails = VmJails::create(options);
    ASSERT_TRUE(jails.ok()) << jails.error().message();
    jails_ = std::move(jails).value();
  }
  void TearDown() override {
    jails_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs script under busybox sh in a fresh jail; its stdout.
  std::string run_jailed(const std::string& script, const JailLimits& limits, int* exit_code,
                         std::string* run_dir = nullptr,
                         const std::vector<std::string>& extra_ro = {}) {
    auto jail = jails_->prepare();
    EXPECT_TRUE(jail.ok()) << jail.error().message();
    if (!jail.ok()) return {};
    if (run_dir) *run_dir = jail->run_dir();
    // The script's $1: the jail's writable run directory.
    auto argv = jails_->command(*jail, {kBusybox, "sh", "-c", script, "sh", jail->run_dir()}, "",
                                limits, extra_ro);
    EXPECT_TRUE(argv.ok());
    SpawnOptions spawn;
    spawn.capture_stdout = true;
    spawn.namespaces = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;
    auto process = VmProcess::spawn_command(*argv, spawn);
    EXPECT_TRUE(process.ok()) << process.error().message();
    if (!process.ok()) return {};
    auto code = process->wait();
    EXPECT_TRUE(code.ok());
    *exit_code = code.ok() ? *code : -1;
    std::string out = process->stdout_output();
    if (*exit_code != 0) out += "\nstderr: " + process->stderr_output();
    last_uid_ = jail->uid();
    return out;
  }

  fs::path dir_;
  std::shared_ptr<VmJails> jails_;
  uid_t last_uid_ = 0;
};

TEST_F(VmJailTest, TheJailedProcessHasNoPrivilegeAndSeesOnlyItsRoot) {
  if (!fs::exists(kBusybox)) GTEST_SKIP() << "no static busybox";
  const fs::path host_file = dir_ / "host-secret";
  std::ofstream(host_file) << "secret\n";
  int code = -1;
  const std::string out = run_jailed(
      "B=/bin/busybox; $B cat /proc/self/status; echo pid=$$; echo host=$($B hostname);"
      " $B cat " + host_file.string() + " && echo SAW-HOST-FILE;"
      " $B test -e /etc/passwd && echo SAW-ETC; $B ls /dev; $B ls -ln /dev/kvm;"
      " $B touch /new-file 2>/dev/null && echo ROOT-WRITABLE; echo done",
      {}, &code);
  ASSERT_EQ(code, 0) << out;
  const std::string uid = std::to_string(last_uid_);
  EXPECT_NE(out.find("Uid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid + "\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Gid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid + "\n"),
            std::string::npos)
      << out;
  // No supplementary groups: the kernel prints the field empty (a tab and a space).
  EXPECT_TRUE(out.find("Groups:\t \n") != std::string::npos ||
              out.find("Groups:\t\n") != std::string::npos)
      << out;
  for (const char* cap : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_NE(out.find(std::string(cap) + ":\t0000000000000000\n"), std::string::npos)
        << cap << "\n" << out;
  }
  EXPECT_NE(out.find("NoNewPrivs:\t1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("pid=1\n"), std::string::npos) << out;  // PID 1 of its own namespace
  EXPECT_NE(out.find("host=ember-vm\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("SAW-HOST-FILE"), std::string::npos) << out;
  EXPECT_EQ(out.find("SAW-ETC"), std::string::npos) << out;
  EXPECT_EQ(out.find("ROOT-WRITABLE"), std::string::npos) << out;
  // /dev holds /dev/kvm only, owned by the VM's uid.
  EXPECT_NE(out.find("kvm\n"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("crw------- +1 +" + uid + " +" + uid +
                                                " +10, +232 .* /dev/kvm\n")))
      << out;
  EXPECT_NE(out.find("done\n"), std::string::npos) << out;
  // The jail directory goes with its VmJail; nothing is left mounted on the host.
  EXPECT_TRUE(fs::is_empty(dir_ / "jail")) << "jail dirs left behind";
}

TEST_F(VmJailTest, FsizeAndNofileAreEnforced) {
  if (!fs::exists(kBusybox)) GTEST_SKIP() << "no static busybox";
  JailLimits limits;
  limits.fsize = 4096;
  limits.nofile = 20;
  int code = -1;
  std::string run;
  const std::string out = run_jailed(
      "B=/bin/busybox; R=$1; $B yes | $B head -c 4096 >$R/small; echo small=$?;"
      " $B yes | $B head -c 16384 >$R/big; echo big=$?;"
      " $B stat -c big-size=%s $R/big; echo nofile=$(ulimit -n);"
      " (exec 30>$R/fd30) 2>/dev/null && echo FD30-OPENED || echo fd30-refused;"
      " (exec 12>$R/fd12) && echo fd12-opened; echo done",
      limits, &code, &run);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("small=0\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("big=0\n"), std::string::npos) << out;  // SIGXFSZ (or EFBIG)
  EXPECT_NE(out.find("big-size=4096\n"), std::string::npos) << out;
  EXPECT_NE(out.find("nofile=20\n"), std::string::npos) << out;
  EXPECT_NE(out.find("fd30-refused\n"), std::string::npos) << out;
  EXPECT_NE(out.find("fd12-opened\n"), std::string::npos) << out;
}

TEST_F(VmJailTest, ExposeHardLinksIntoTheRootAndSealOwnsByRoot) {
  auto jail = jails_->prepare();
  ASSERT_TRUE(jail.ok()) << jail.error().message();
  struct stat run_st;
  ASSERT_EQ(::stat(jail->run_dir().c_str(), &run_st), 0);
  EXPECT_EQ(run_st.st_uid, jail->uid());
  EXPECT_EQ(run_st.st_mode & 0777, 0700u);

  const fs::path snap = dir_ / "snapshots" / "f" / "r1";
  fs::create_directories(snap);
  std::ofstream(snap / "state.bin") << "state";
  std::ofstream(snap / "memory.bin") << "memory";
  ASSERT_EQ(::chown((snap / "memory.bin").c_str(), jail->uid(), jail->uid()), 0);
  ::chmod((snap / "memory.bin").c_str(), 0600);
  ASSERT_TRUE(seal_for_vmms(snap.string()).ok());
  struct stat st;
  ASSERT_EQ(::stat((snap / "memory.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  ASSERT_TRUE(jail->expose(snap.string()).ok());
  const std::string inside = jail->root() + (snap / "state.bin").string();
  struct stat a, b;
  ASSERT_EQ(::stat(inside.c_str(), &a), 0) << inside;
  ASSERT_EQ(::stat((snap / "state.bin").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);  // a hard link, not a copy
  EXPECT_TRUE(jail->expose(snap.string()).ok());  // again: already there

  // A symlink planted by a VMM is refused, not followed.
  fs::create_symlink("/etc/passwd", snap / "evil");
  EXPECT_FALSE(seal_for_vmms(snap.string()).ok());
}

TEST_F(VmJailTest, CommandBindsTheVmmFilesAndKeepsTheTapAndTheLifeline) {
  auto jail = jails_->prepare();
  ASSERT_TRUE(jail.ok());
  JailLimits limits;
  limits.fsize = 12345;
  auto argv = jails_->command(*jail, {"/b/ember-vmm", "--kernel", "/g/vmlinux", "--disk", "/c:ro"},
                              "/run/netns/vm1", limits);
  ASSERT_TRUE(argv.ok());
  auto parsed = parse_jailer_args(*argv);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ((*argv)[0], EMBER_JAILER_BIN);
  EXPECT_EQ(parsed->root, jail->root());
  EXPECT_EQ(parsed->uid, jail->uid());
  EXPECT_EQ(parsed->gid, jail->uid());
  EXPECT_EQ(parsed->netns, "/run/netns/vm1");
  EXPECT_EQ(parsed->keep_fds, (std::vector<int>{kChildNetFd, kChildLifelineFd}));
  EXPECT_EQ(parsed->bind_ro, (std::vector<std::string>{"/g/vmlinux", "/c"}));
  EXPECT_EQ(parsed->bind_rw, (std::vector<std::string>{jail->run_dir()}));
  EXPECT_EQ(parsed->rlimit_fsize, 12345u);
  EXPECT_EQ(parsed->command[0], "/b/ember-vmm");
  // Two live jails never share a uid.
  auto other = jails_->prepare();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->uid(), jail->uid());
  EXPECT_NE(other->dir(), jail->dir());
}

}  // namespace
}  // namespace ember::host::jail
