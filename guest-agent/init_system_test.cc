// Tests for the parts of PID 1 setup that can run on the host: loopback and /proc helpers.
#include "guest-agent/init_system.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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
