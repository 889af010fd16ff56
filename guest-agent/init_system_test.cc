// Tests for the parts of PID 1 setup that can run on the host: loopback, /tmp and /run in a
// private mount namespace, and /proc helpers.
#include "guest-agent/init_system.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace ember::agent {
namespace {

// lo's flags and IPv4 address (0 when it has none).
struct LoState {
  bool up = false;
  uint32_t addr = 0;
};

LoState lo_state() {
  LoState state;
  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0) state.up = (ifr.ifr_flags & IFF_UP) != 0;
  if (::ioctl(s, SIOCGIFADDR, &ifr) == 0) {
    state.addr = ntohl(reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr)->sin_addr.s_addr);
  }
  ::close(s);
  return state;
}

// In a fresh network namespace lo is down and has no address.
int loopback_check_in_new_netns() {
  if (::unshare(CLONE_NEWNET) != 0) return 77;
  LoState before = lo_state();
  if (before.up || before.addr != 0) return 10;
  if (!bring_up_loopback().ok()) return 11;
  if (!bring_up_loopback().ok()) return 12;  // idempotent
  LoState after = lo_state();
  if (!after.up || after.addr != INADDR_LOOPBACK) return 13;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int server = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 14;
  if (::listen(server, 1) != 0) return 15;
  socklen_t len = sizeof addr;
  ::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len);
  int client = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 16;
  return 0;
}

TEST(InitSystem, LoopbackComesUpWith127001) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(loopback_check_in_new_netns());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "no permission to create a network namespace";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(InitSystem, TmpIsSizedAndOwnedByTheRuntimesUser) {
  BootConfig config;
  config.tmp_mib = 640;
  EXPECT_EQ(tmp_mount_options(config, Credentials{993, 994}),
            "mode=0700,uid=993,gid=994,size=640m");
}

// In a child with a private mount namespace (nothing reaches the machine's mounts): the
// runtime filesystems are mounted, /tmp is the user's alone and /run is root's.
int runtime_filesystems_check_in_new_mount_ns() {
  if (::unshare(CLONE_NEWNS) != 0) return 77;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
  BootConfig config;
  config.tmp_mib = 8;
  const Credentials user{4242, 4343};
  if (!mount_runtime_filesystems(config, user).ok()) return 10;
  struct stat st;
  if (::stat("/tmp", &st) != 0) return 11;
  if (st.st_uid != user.uid || st.st_gid != user.gid || (st.st_mode & 07777) != 0700) return 12;
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(user.gid, user.gid, user.gid) != 0 ||
        ::setresuid(user.uid, user.uid, user.uid) != 0) {
      ::_exit(20);
    }
    int tmp_file = ::open("/tmp/written", O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (tmp_file < 0 || ::write(tmp_file, "x", 1) != 1) ::_exit(21);
    if (::open("/run/written", O_WRONLY | O_CREAT | O_EXCL, 0600) >= 0 || errno != EACCES) {
      ::_exit(22);
    }
    ::_exit(0);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 13;
  return WEXITSTATUS(status);
}

TEST(InitSystem, TmpIsWritableByTheRuntimesUserAndRunIsNot) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting needs root";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(runtime_filesystems_check_in_new_mount_ns());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "no permission to create a mount namespace";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(InitSystem, ReadsProcFilesAndClocks) {
  auto cmdline = read_text_file("/proc/self/cmdline");
  ASSERT_TRUE(cmdline.ok());
  EXPECT_FALSE(cmdline->empty());
  EXPECT_FALSE(read_text_file("/no/such/file").ok());
  uint64_t uptime = kernel_uptime_ns();
  EXPECT_GT(uptime, 0u);
  // /proc/uptime and CLOCK_BOOTTIME are the same clock at 10 ms resolution.
  uint64_t boot = boottime_ns();
  EXPECT_LE(uptime, boot + 20'000'000);
  EXPECT_GE(uptime + 1'000'000'000, boot);
}

}  // namespace
}  // namespace ember::agent
