// Tests for VmProcess with a stand-in for ember-vmm (a shell script), and vmm_command.
#include "host/vm_client.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

namespace ember::host {
namespace {

class VmProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-vm-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  // A fake VMM: prints its arguments one per line on stdout, a note on stderr, runs `body`.
  std::string fake_vmm(const std::string& body) {
    std::string path = dir_ + "/fake-vmm";
    std::ofstream(path) << "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n"
                        << "echo 'vmm: starting' >&2\n"
                        << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path;
  }

  std::string dir_;
};

TEST(VmmCommand, BuildsTheDocumentedFlags) {
  VmConfig c;
  c.kernel = "/k/vmlinux";
  c.initrd = "/k/initramfs.cpio";
  c.root = "/r/rootfs.erofs";
  c.disks = {"/d/a.img", "/d/b.img:ro"};
  c.mem_mib = 256;
  c.vcpus = 2;
  c.vsock_cid = 7;
  c.vsock_uds = "/run/v.sock";
  c.extra_cmdline = "ember.tmp_mib=1024";
  c.console = true;
  c.log_level = "debug";
  std::vector<std::string> want = {"ember-vmm",
                                   "--kernel",
                                   "/k/vmlinux",
                                   "--initrd",
                                   "/k/initramfs.cpio",
                                   "--root",
                                   "/r/rootfs.erofs",
                                   "--disk",
                                   "/d/a.img",
                                   "--disk",
                                   "/d/b.img:ro",
                                   "--mem-mib",
                                   "256",
                                   "--vcpus",
                                   "2",
                                   "--vsock-cid",
                                   "7",
                                   "--vsock-uds",
                                   "/run/v.sock",
                                   "--cmdline",
                                   "ember.tmp_mib=1024",
                                   "--console",
                                   "--log-level",
                                   "debug"};
  EXPECT_EQ(vmm_command(c), want);

  VmConfig minimal;
  minimal.kernel = "vmlinux";
  EXPECT_EQ(vmm_command(minimal), (std::vector<std::string>{"ember-vmm", "--kernel", "vmlinux",
                                                            "--mem-mib", "128", "--vcpus", "1"}));
}

TEST_F(VmProcessTest, ExitCodeAndCapturedOutput) {
  VmConfig c;
  c.vmm_path = fake_vmm("exit 3");
  c.kernel = "vmlinux";
  c.capture_stdout = true;
  auto vm = VmProcess::spawn(c);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  auto code = vm->wait();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 3);
  EXPECT_FALSE(vm->running());
  EXPECT_EQ(vm->stdout_output(), "--kernel\nvmlinux\n--mem-mib\n128\n--vcpus\n1\n");
  EXPECT_EQ(vm->stderr_output(), "vmm: starting\n");
  EXPECT_EQ(vm->stderr_output(6), "rting\n");
}

TEST_F(VmProcessTest, OutputToFiles) {
  VmConfig c;
  c.vmm_path = fake_vmm("exit 0");
  c.kernel = "vmlinux";
  c.stdout_path = dir_ + "/console.log";
  c.stderr_path = dir_ + "/vmm.log";
  auto vm = VmProcess::spawn(c);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  EXPECT_EQ(vm->wait().value(), 0);
  std::ifstream log(c.stderr_path);
  std::string line;
  std::getline(log, line);
  EXPECT_EQ(line, "vmm: starting");
  EXPECT_EQ(vm->stderr_output(), "vmm: starting\n");
  EXPECT_NE(vm->stdout_output().find("--kernel"), std::string::npos);
}

TEST_F(VmProcessTest, WaitForTimesOutThenKillReportsTheSignal) {
  auto vm = VmProcess::spawn_command({"sleep", "30"});
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  auto early = vm->wait_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(early->has_value());
  EXPECT_TRUE(vm->running());
  ASSERT_TRUE(vm->kill(SIGTERM).ok());
  auto late = vm->wait_for(std::chrono::seconds(5));
  ASSERT_TRUE(late.ok() && late->has_value());
  EXPECT_EQ(**late, 128 + SIGTERM);
}

TEST_F(VmProcessTest, DestructorKillsAndReaps) {
  pid_t pid;
  {
    auto vm = VmProcess::spawn_command({"sleep", "30"});
    ASSERT_TRUE(vm.ok());
    pid = vm->pid();
    VmProcess moved = std::move(vm).value();  // the moved-from object must not kill it
    EXPECT_EQ(::kill(pid, 0), 0);
  }
  // Reaped, so the pid no longer exists (not even as a zombie).
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST_F(VmProcessTest, MissingBinaryIsAnError) {
  VmConfig c;
  c.vmm_path = dir_ + "/no-such-vmm";
  c.kernel = "vmlinux";
  auto vm = VmProcess::spawn(c);
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.error().code, ENOENT);
  VmConfig no_kernel;
  EXPECT_FALSE(VmProcess::spawn(no_kernel).ok());
}

TEST_F(VmProcessTest, AnErrorSaysHowTheVmmEnded) {
  auto sigsys = VmProcess::spawn_command({"sh", "-c", "echo 'last words' >&2; kill -SYS $$"});
  ASSERT_TRUE(sigsys.ok()) << sigsys.error().message();
  const std::string killed = with_vmm_output(make_error("invoke", "closed"), *sigsys).message();
  EXPECT_NE(killed.find("ember-vmm was killed by SIGSYS"), std::string::npos) << killed;
  EXPECT_NE(killed.find("--seccomp log"), std::string::npos) << killed;
  EXPECT_NE(killed.find("last words"), std::string::npos) << killed;

  auto crashed = VmProcess::spawn_command({"sh", "-c", "exit 3"});
  ASSERT_TRUE(crashed.ok());
  EXPECT_EQ(describe_vmm_end(*crashed), "ember-vmm exited with status 3 (the guest crashed)");

  auto running = VmProcess::spawn_command({"sleep", "30"});
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(describe_vmm_end(*running), "");
  EXPECT_EQ(with_vmm_output(make_error("invoke", "closed"), *running).message(),
            "invoke: closed");
}

TEST_F(VmProcessTest, TheChildGetsTheTapAndTheLifelineAtTheirNumbers) {
  int tap[2], lifeline[2];
  ASSERT_EQ(::pipe2(tap, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(lifeline, O_CLOEXEC), 0);
  UniqueFd tap_read(tap[0]), tap_write(tap[1]), lifeline_read(lifeline[0]),
      lifeline_write(lifeline[1]);
  // The child reads the "tap" on 3, then waits on 4 until the lifeline's writer is gone.
  SpawnOptions spawn;
  spawn.capture_stdout = true;
  spawn.net_fd = tap_read.get();
  spawn.lifeline_fd = lifeline_read.get();
  auto child = VmProcess::spawn_command(
      {"sh", "-c", "read line <&3; echo \"tap: $line\"; cat <&4; echo 'lifeline: hung up'"}, spawn);
  ASSERT_TRUE(child.ok()) << child.error().message();
  ASSERT_EQ(::write(tap_write.get(), "frame\n", 6), 6);
  auto early = child->wait_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(early->has_value()) << "exited while its lifeline was held: "
                                   << child->stdout_output();
  lifeline_write.reset();
  auto late = child->wait_for(std::chrono::seconds(5));
  ASSERT_TRUE(late.ok() && late->has_value()) << "still running after its lifeline hung up";
  EXPECT_EQ(**late, 0) << child->stderr_output();
  EXPECT_EQ(child->stdout_output(), "tap: frame\nlifeline: hung up\n");
}

TEST(Lifeline, IsOnePipeWhoseWriteEndNoChildInherits) {
  const int read_end = lifeline_read_end();
  EXPECT_EQ(lifeline_read_end(), read_end);
  struct stat st;
  ASSERT_EQ(::fstat(read_end, &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_NE(::fcntl(read_end, F_GETFD) & FD_CLOEXEC, 0);
  // A child not given it holds neither end: only this process can make the pipe hang up,
  // and only by ending.
  SpawnOptions captured;
  captured.capture_stdout = true;
  auto child = VmProcess::spawn_command({"sh", "-c", "ls -l /proc/$$/fd/"}, captured);
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(child->wait().ok());
  const std::string pipe = "pipe:[" + std::to_string(st.st_ino) + "]";
  EXPECT_EQ(child->stdout_output().find(pipe), std::string::npos) << child->stdout_output();
}

}  // namespace
}  // namespace ember::host
