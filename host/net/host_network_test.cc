// Tests of HostNetwork and VmNetns against the real kernel: namespaces, veth pairs, taps and
// nftables rules, and a fake guest's traffic through the tap. They need root, /dev/net/tun
// and nf_tables, and skip (saying why) without them. Everything made is removed.
#include "host/net/host_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "host/net/addressing.h"
#include "host/net/fake_guest.h"
#include "host/net/ip_command.h"

namespace ember::host::net {
namespace {

using namespace std::chrono_literals;

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(("( " + command + " ) 2>&1").c_str(), "r");
  char buf[512];
  while (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  if (p != nullptr) ::pclose(p);
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

EgressPolicy policy(const char* text) {
  auto p = parse_egress_policy(text);
  EXPECT_TRUE(p.ok()) << text;
  return p.ok() ? *p : EgressPolicy{};
}

class HostNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, taps, nftables)";
    if (::access("/dev/net/tun", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/net/tun";
    if (!find_ip_binary().ok()) GTEST_SKIP() << "iproute2's ip is not installed";
    auto nft = Nft::create();
    if (!nft.ok() || !nft->run("list tables").ok()) GTEST_SKIP() << "nf_tables is unusable";
    ip_forward_ = read_file("/proc/sys/net/ipv4/ip_forward");
  }

  void TearDown() override {
    if (ip_forward_.empty()) return;
    // What the test made is gone, failed or not.
    EXPECT_FALSE(contains(shell("nft list tables"), "table inet ember"));
    EXPECT_FALSE(contains(shell("ls /run/netns"), "ember-vm-"));
    EXPECT_FALSE(contains(shell("ls /sys/class/net"), "emb0"));
    // Then, whatever a failure left behind goes too.
    shell(
        "nft delete table inet ember; for n in /run/netns/ember-vm-*; do "
        "[ -e \"$n\" ] && ip netns delete \"${n##*/}\"; done; "
        "for l in /sys/class/net/emb[0-9]*; do [ -e \"$l\" ] && ip link delete \"${l##*/}\"; done");
    std::ofstream("/proc/sys/net/ipv4/ip_forward") << ip_forward_;
  }

  std::unique_ptr<HostNetwork> start(uint32_t resolver = ipv4(192, 0, 2, 53),
                                     uint32_t max_connections = 256) {
    auto host = HostNetwork::start({resolver, 10'000'000, max_connections});
    EXPECT_TRUE(host.ok()) << host.error().message();
    return host.ok() ? std::move(host).value() : nullptr;
  }

  std::string ip_forward_;
};

// What the kernel's two maps say of emb0..emb7, one line each: "\"emb0\" : jump egress_none".
std::string map_listing() {
  const std::string egress = shell("nft -j list map inet ember egress");
  const std::string policies = shell("nft list map inet ember policies");
  std::string out;
  for (int i = 0; i < 8; ++i) {
    const std::string key = "\"emb" + std::to_string(i) + "\", ";
    size_t at = egress.find(key);
    if (at == std::string::npos) continue;
    const uint32_t id = static_cast<uint32_t>(std::stoul(egress.substr(at + key.size())));
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", id);
    size_t p = policies.find(std::string(hex) + " : jump ");
    const std::string chain =
        p == std::string::npos
            ? "?"
            : policies.substr(p + 18, policies.find_first_of(",\n }", p + 18) - p - 18);
    out += "\"emb" + std::to_string(i) + "\" : jump " + chain + "\n";
  }
  return out;
}

TEST_F(HostNetworkTest, MakesVmNetnsAndAssignsPolicies) {
  auto host = start();
  ASSERT_TRUE(host);
  EXPECT_EQ(read_file("/proc/sys/net/ipv4/ip_forward"), "1\n");
  EXPECT_TRUE(contains(shell("nft list table inet ember"), "map egress"));
  {
    auto vm0 = host->create_vm();
    ASSERT_TRUE(vm0.ok()) << vm0.error().message();
    auto vm1 = host->create_vm();
    ASSERT_TRUE(vm1.ok()) << vm1.error().message();
    EXPECT_EQ(vm0->index(), 0u);
    EXPECT_EQ(vm1->index(), 1u);
    EXPECT_EQ(vm1->netns_path(), "/run/netns/ember-vm-1");
    EXPECT_EQ(vm1->host_ifname(), "emb1");
    EXPECT_TRUE(exists("/run/netns/ember-vm-0"));
    EXPECT_TRUE(exists("/sys/class/net/emb1"));
    EXPECT_TRUE(contains(shell("ip -br addr show emb1"), "10.200.0.5/30"));

    // The tap is tap0 with the flags the VMM expects, and lives in the VM's netns only.
    ifreq ifr{};
    ASSERT_EQ(::ioctl(vm0->tap_fd(), TUNGETIFF, &ifr), 0);
    EXPECT_STREQ(ifr.ifr_name, "tap0");
    EXPECT_EQ(ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
              IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
    EXPECT_TRUE(::fcntl(vm0->tap_fd(), F_GETFD) & FD_CLOEXEC);
    EXPECT_FALSE(exists("/sys/class/net/tap0"));
    const std::string inside = shell("ip -n ember-vm-0 addr");
    EXPECT_TRUE(contains(inside, "06:00:ac:10:00:01")) << inside;
    EXPECT_TRUE(contains(inside, "inet 172.16.0.1/30")) << inside;
    EXPECT_TRUE(contains(inside, "inet 10.200.0.2/30")) << inside;
    EXPECT_TRUE(contains(shell("ip -n ember-vm-0 route"), "default via 10.200.0.1 dev veth0"));
    EXPECT_TRUE(contains(shell("ip netns exec ember-vm-0 sysctl net.ipv4.ip_forward"), "= 1"));
    EXPECT_TRUE(
        contains(shell("ip netns exec ember-vm-0 nft list ruleset"), "dnat ip to 192.0.2.53"));

    // Policies: a map element per interface, replaced in place.
    EXPECT_FALSE(contains(map_listing(), "emb0"));
    ASSERT_TRUE(host->assign(*vm0, policy("internet")).ok());
    const EgressPolicy list = policy("203.0.113.0/24,198.51.100.7:443");
    Status s = host->assign(*vm1, list);
    ASSERT_TRUE(s.ok()) << s.error().message();
    std::string map = map_listing();
    EXPECT_TRUE(contains(map, "\"emb0\" : jump egress_internet")) << map;
    EXPECT_TRUE(contains(map, "\"emb1\" : jump " + policy_chain_name(list))) << map;
    s = host->assign(*vm0, policy("none"));
    ASSERT_TRUE(s.ok()) << s.error().message();
    map = map_listing();
    EXPECT_TRUE(contains(map, "\"emb0\" : jump egress_none")) << map;
    EXPECT_FALSE(contains(map, "egress_internet")) << map;

    // A destroyed VM leaves nothing, and its index is taken again first.
    { VmNetns gone = std::move(vm0).value(); }
    EXPECT_FALSE(exists("/run/netns/ember-vm-0"));
    EXPECT_FALSE(exists("/sys/class/net/emb0"));
    map = map_listing();
    EXPECT_FALSE(contains(map, "emb0")) << map;
    EXPECT_TRUE(contains(map, "emb1")) << map;
    auto again = host->create_vm();
    ASSERT_TRUE(again.ok()) << again.error().message();
    EXPECT_EQ(again->index(), 0u);
  }
  EXPECT_FALSE(contains(map_listing(), "emb1"));
  EXPECT_FALSE(exists("/run/netns/ember-vm-1"));
  host.reset();
  EXPECT_FALSE(contains(shell("nft list tables"), "table inet ember"));
}

TEST_F(HostNetworkTest, StartRemovesWhatACrashedEmberdLeft) {
  // As a crashed emberd would leave them: a table, a netns, a link.
  ASSERT_EQ(shell("nft add table inet ember && ip netns add ember-vm-9 && "
                  "ip link add emb9 type veth peer name emb9peer && echo made"),
            "made\n");
  auto host = start();
  ASSERT_TRUE(host);
  EXPECT_FALSE(exists("/run/netns/ember-vm-9"));
  EXPECT_FALSE(exists("/sys/class/net/emb9"));
  EXPECT_FALSE(exists("/sys/class/net/emb9peer"));
  EXPECT_TRUE(contains(shell("nft list table inet ember"), "chain from_vm"));
}

// The first IPv4 address of an interface that is up, not loopback and not Ember's.
std::optional<uint32_t> host_address() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<uint32_t> found;
  for (ifaddrs* a = list; a != nullptr && !found; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    if ((a->ifa_flags & IFF_UP) == 0 || (a->ifa_flags & IFF_LOOPBACK) != 0) continue;
    if (std::string(a->ifa_name).starts_with("emb")) continue;
    found = ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr);
  }
  ::freeifaddrs(list);
  return found;
}

// A UDP echo server on the resolver's address, port 53, recording who asked.
class EchoServer {
 public:
  bool bind(uint32_t address) {
    fd_.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(53);
    sa.sin_addr.s_addr = htonl(address);
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return false;
    thread_ = std::thread([this] { serve(); });
    return true;
  }
  ~EchoServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int queries() const { return queries_; }
  uint32_t last_source() const { return last_source_; }

 private:
  void serve() {
    char buf[2048];
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n =
          ::recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) continue;
      last_source_ = ntohl(from.sin_addr.s_addr);
      ++queries_;
      ::sendto(fd_.get(), buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
  UniqueFd fd_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::atomic<uint32_t> last_source_{0};
};

bool is_admin_prohibited(const Ipv4Packet& p) {
  return p.protocol == 1 && p.l4.size() >= 2 && p.l4[0] == 3 && p.l4[1] == 13;
}

TEST_F(HostNetworkTest, GuestTrafficThroughTheTap) {
  auto address = host_address();
  if (!address) GTEST_SKIP() << "no non-loopback IPv4 address to put a test resolver on";
  EchoServer resolver;
  if (!resolver.bind(*address))
    GTEST_SKIP() << "port 53 of " << format_ipv4(*address) << " is taken";
  auto host = start(*address);
  ASSERT_TRUE(host);
  auto vm = host->create_vm();
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  auto vm2 = host->create_vm();
  ASSERT_TRUE(vm2.ok()) << vm2.error().message();
  FakeGuest guest(vm->tap_fd());
  // Fresh ports each run (host conntrack entries of an earlier run may still live).
  uint16_t port = static_cast<uint16_t>(20000 + ::getpid() % 20000);
  auto dns_from = [&](uint16_t p) {
    return [p](const Ipv4Packet& r) { return r.protocol == 17 && r.l4_u16(2) == p; };
  };
  auto icmp_error = [](const Ipv4Packet& r) { return is_admin_prohibited(r); };

  // No policy yet: DNS is refused, fast.
  ASSERT_TRUE(guest.send_udp(kGatewayIp, ++port, 53, "query-unassigned"));
  EXPECT_TRUE(guest.receive(2s, icmp_error)) << "no ICMP admin-prohibited for an unassigned VM";

  // internet: DNS to the gateway reaches the resolver, from the VM's own veth address.
  ASSERT_TRUE(host->assign(*vm, policy("internet")).ok());
  ASSERT_TRUE(guest.send_udp(kGatewayIp, ++port, 53, "query-internet"));
  auto answer = guest.receive(2s, dns_from(port));
  ASSERT_TRUE(answer) << "no DNS answer through the tap";
  EXPECT_EQ(answer->src, kGatewayIp);
  EXPECT_EQ(answer->l4_u16(0), 53);
  EXPECT_EQ(answer->l4.substr(8), "query-internet");
  EXPECT_EQ(resolver.queries(), 1);
  EXPECT_EQ(format_ipv4(resolver.last_source()), "10.200.0.2");

  // Neither the host itself (but for DNS) nor another VM is reachable, even when the
  // allowlist names their addresses.
  ASSERT_TRUE(host->assign(*vm, policy("10.0.0.0/8")).ok());
  ASSERT_TRUE(guest.send_udp(host_veth_ip(0), ++port, 5353, "to-host"));
  EXPECT_TRUE(guest.receive(2s, icmp_error)) << "the host answered a VM";
  ASSERT_TRUE(guest.send_udp(netns_veth_ip(vm2->index()), ++port, 9, "to-vm2"));
  EXPECT_TRUE(guest.receive(2s, icmp_error)) << "a VM reached another";

  // A TCP segment of a connection conntrack never saw (as after a restore) gets a reset.
  ASSERT_TRUE(guest.send_tcp(ipv4(198, 51, 100, 1), ++port, 80, 0x10, 1000, 2000));
  auto reset = guest.receive(2s, [&](const Ipv4Packet& r) {
    return r.protocol == 6 && r.l4_u16(2) == port && (r.l4[13] & 0x04);
  });
  ASSERT_TRUE(reset) << "no TCP reset for a mid-stream segment";
  EXPECT_EQ(reset->src, ipv4(198, 51, 100, 1));

  // none: DNS refused too, and the resolver hears nothing.
  ASSERT_TRUE(host->assign(*vm, policy("none")).ok());
  ASSERT_TRUE(guest.send_udp(kGatewayIp, ++port, 53, "query-none"));
  EXPECT_TRUE(guest.receive(2s, icmp_error)) << "DNS was not refused under 'none'";
  // An allowlist allows DNS again.
  ASSERT_TRUE(host->assign(*vm, policy("203.0.113.0/24:443")).ok());
  ASSERT_TRUE(guest.send_udp(kGatewayIp, ++port, 53, "query-allowlist"));
  EXPECT_TRUE(guest.receive(2s, dns_from(port))) << "no DNS answer under an allowlist";
  EXPECT_EQ(resolver.queries(), 2);
}

// Host conntrack entries outlive a VM; clones pick the same source ports. Neither a clone at
// a reused index nor a VM whose policy was narrowed may keep using earlier flows.
TEST_F(HostNetworkTest, NoFlowOutlivesItsPolicy) {
  auto address = host_address();
  if (!address) GTEST_SKIP() << "no non-loopback IPv4 address to put a test resolver on";
  EchoServer resolver;
  if (!resolver.bind(*address))
    GTEST_SKIP() << "port 53 of " << format_ipv4(*address) << " is taken";
  auto host = start(*address);
  ASSERT_TRUE(host);
  const uint16_t port = static_cast<uint16_t>(20000 + ::getpid() % 20000);
  auto answer = [](uint16_t p) {
    return [p](const Ipv4Packet& r) { return r.protocol == 17 && r.l4_u16(2) == p; };
  };
  {
    auto vm = host->create_vm();
    ASSERT_TRUE(vm.ok()) << vm.error().message();
    ASSERT_TRUE(host->assign(*vm, policy("internet")).ok());
    FakeGuest guest(vm->tap_fd());
    ASSERT_TRUE(guest.send_udp(kGatewayIp, port, 53, "first-clone"));
    ASSERT_TRUE(guest.receive(2s, answer(port)));
    // The same flow, narrowed to none: refused from the next packet on.
    ASSERT_TRUE(guest.send_udp(kGatewayIp, port + 1, 53, "before"));
    ASSERT_TRUE(guest.receive(2s, answer(port + 1)));
    ASSERT_TRUE(host->assign(*vm, policy("none")).ok());
    ASSERT_TRUE(guest.send_udp(kGatewayIp, port + 1, 53, "after"));
    EXPECT_TRUE(guest.receive(2s, is_admin_prohibited)) << "a narrowed policy kept a flow";
  }
  auto clone = host->create_vm();
  ASSERT_TRUE(clone.ok()) << clone.error().message();
  ASSERT_EQ(clone->index(), 0u);
  ASSERT_TRUE(host->assign(*clone, policy("none")).ok());
  FakeGuest guest(clone->tap_fd());
  ASSERT_TRUE(guest.send_udp(kGatewayIp, port, 53, "second-clone"));
  EXPECT_TRUE(guest.receive(2s, is_admin_prohibited)) << "a clone inherited a flow";
  EXPECT_EQ(resolver.queries(), 2);
}

// Flows past the cap are refused by the host (so the ICMP comes from the host's end).
TEST_F(HostNetworkTest, ConnectionCap) {
  if (!contains(shell("ip route show default"), "default")) GTEST_SKIP() << "no default route";
  auto host = start(ipv4(192, 0, 2, 53), 2);
  ASSERT_TRUE(host);
  auto vm = host->create_vm();
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  ASSERT_TRUE(host->assign(*vm, policy("internet")).ok());
  FakeGuest guest(vm->tap_fd());
  const uint16_t port = static_cast<uint16_t>(20000 + ::getpid() % 20000);
  auto refused = [](const Ipv4Packet& r) {
    return is_admin_prohibited(r) && r.src == host_veth_ip(0);
  };
  // TEST-NET-2 (198.51.100.0/24) counts as internet here and goes nowhere.
  for (uint16_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(guest.send_udp(ipv4(198, 51, 100, 9), port + i, 9, "within the cap"));
    EXPECT_FALSE(guest.receive(500ms, refused)) << "flow " << i << " refused under the cap";
  }
  ASSERT_TRUE(guest.send_udp(ipv4(198, 51, 100, 9), port + 2, 9, "over the cap"));
  EXPECT_TRUE(guest.receive(2s, refused)) << "a third flow passed a cap of 2";
}

// Prints what assign() costs among many VMs and policies (a figure, not a timed assertion:
// scripts/bench-net measures restores with and without networking).
TEST_F(HostNetworkTest, AssignAmongManyVmsAndPolicies) {
  auto host = start();
  ASSERT_TRUE(host);
  auto vm = host->create_vm();
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  // As on a busy host: 100 policy chains and 2000 other VMs' map elements.
  std::chrono::nanoseconds new_chain{0};
  for (int i = 0; i < 100; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Status s = host->assign(*vm, policy(("198.51.100." + std::to_string(i) + ":443").c_str()));
    new_chain += std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(s.ok()) << s.error().message();
  }
  auto nft = Nft::create();
  ASSERT_TRUE(nft.ok());
  for (int batch = 0; batch < 20; ++batch) {
    std::string elements;
    for (int i = 0; i < 100; ++i) {
      if (i > 0) elements += ", ";
      elements += "\"emb" + std::to_string(1000 + batch * 100 + i) + "\" : 1";
    }
    ASSERT_TRUE(host->assign(*vm, policy("none")).ok());
    Status s = nft->run("add element inet ember egress { " + elements + " }");
    ASSERT_TRUE(s.ok()) << s.error().message();
  }
  std::printf("assign with a new policy chain: mean %.1f us\n", new_chain.count() / 1e3 / 100);
  const EgressPolicy a = policy("internet"), b = policy("203.0.113.0/24,198.51.100.7:443");
  ASSERT_TRUE(host->assign(*vm, a).ok());  // the chains exist from here on
  ASSERT_TRUE(host->assign(*vm, b).ok());
  constexpr int kRounds = 500;
  std::vector<double> us;
  for (int i = 0; i < kRounds; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Status s = host->assign(*vm, i % 2 ? b : a);
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_TRUE(s.ok()) << s.error().message();
  }
  double mean = 0;
  for (double u : us) mean += u / kRounds;
  std::sort(us.begin(), us.end());
  std::printf(
      "assign (replace a VM's policy; 2000 VMs, 100 policies): median %.1f us, p99 %.1f us, "
      "max %.1f us, mean %.1f us over %d\n",
      us[kRounds / 2], us[kRounds * 99 / 100], us.back(), mean, kRounds);

  // A first assignment (add only, the chain known) after a fresh create_vm.
  const auto c0 = std::chrono::steady_clock::now();
  auto vm2 = host->create_vm();
  const auto c1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(vm2.ok()) << vm2.error().message();
  ASSERT_TRUE(host->assign(*vm2, a).ok());
  const auto c2 = std::chrono::steady_clock::now();
  std::printf("create_vm: %.1f ms; first assign: %.1f us\n",
              std::chrono::duration<double, std::milli>(c1 - c0).count(),
              std::chrono::duration<double, std::micro>(c2 - c1).count());

  // With more than 64 policy chains, the unused ones go when a VM is destroyed.
  { VmNetns gone = std::move(vm).value(); }
  const std::string table = shell("nft list table inet ember");
  size_t chains = 0;
  for (size_t at = 0; (at = table.find("chain egress_", at)) != std::string::npos; ++at) ++chains;
  EXPECT_EQ(chains, 1u) << table;
  EXPECT_TRUE(contains(table, "chain egress_internet")) << table;
  EXPECT_TRUE(contains(map_listing(), "\"emb1\" : jump egress_internet"));
}

// Several threads making and destroying VM networks at once get distinct indexes.
TEST_F(HostNetworkTest, ConcurrentCreateVm) {
  auto host = start();
  ASSERT_TRUE(host);
  constexpr int kThreads = 4, kEach = 3;
  std::mutex mu;
  std::vector<VmNetns> made;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto vm = host->create_vm();
        std::lock_guard lock(mu);
        if (!vm.ok()) {
          errors.push_back(vm.error().message());
          continue;
        }
        if (i == 0) continue;  // destroyed at once, outside the lock is not needed
        made.push_back(std::move(vm).value());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  std::set<uint32_t> indexes;
  for (const auto& vm : made) {
    indexes.insert(vm.index());
    EXPECT_TRUE(exists(vm.netns_path())) << vm.netns_path();
    EXPECT_TRUE(exists("/sys/class/net/" + vm.host_ifname())) << vm.host_ifname();
  }
  EXPECT_EQ(indexes.size(), made.size());
  EXPECT_EQ(made.size(), static_cast<size_t>(kThreads * (kEach - 1)));
  made.clear();
  EXPECT_FALSE(contains(shell("ls /run/netns"), "ember-vm-"));
}

}  // namespace
}  // namespace ember::host::net
