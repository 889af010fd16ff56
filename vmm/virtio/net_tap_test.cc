// Tests for Net over a real tap in a private network namespace (skipped without
// /dev/net/tun or CAP_NET_ADMIN): vnet header size, offloads, and frames both ways.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "vmm/virtio/mmio_transport.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/test_driver.h"

namespace ember::vmm::virtio {
namespace {

using testing::drain;
using testing::kTestMemSize;
using testing::TestDriver;

constexpr uint16_t kEtherType = 0x88b5;  // IEEE local experimental
constexpr uint32_t kHdr = Net::kHeaderSize;
const MacAddress kGuestMac = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02};
const MacAddress kHostMac = {0x06, 0x00, 0xac, 0x10, 0x00, 0x01};

struct TapEnv {
  std::string skip;  // why the test cannot run here
  UniqueFd netns;    // keeps the namespace alive
  UniqueFd tap;
  UniqueFd packet;  // AF_PACKET socket on the tap, for kEtherType
  int ifindex = 0;
};

// Creates an up tap "embtest0" in a fresh network namespace. unshare() moves only the
// calling thread, so a helper thread does it and the test process stays where it is.
TapEnv make_tap_env() {
  TapEnv env;
  std::thread([&env] {
    if (::unshare(CLONE_NEWNET) != 0) {
      env.skip = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    env.netns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    // No IPv6 on new devices: no router solicitations mixed into the frames under test.
    UniqueFd v6(::open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC));
    if (v6) (void)!::write(v6.get(), "1", 1);
    env.tap.reset(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!env.tap) {
      env.skip = std::string("/dev/net/tun: ") + std::strerror(errno);
      return;
    }
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "embtest0");
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (::ioctl(env.tap.get(), TUNSETIFF, &ifr) != 0) {
      env.skip = std::string("TUNSETIFF: ") + std::strerror(errno);
      return;
    }
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    bool up = sock && ::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags |= IFF_UP;
    up = up && ::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) == 0 &&
         ::ioctl(sock.get(), SIOCGIFINDEX, &ifr) == 0;
    if (!up) {
      env.skip = std::string("bring the tap up: ") + std::strerror(errno);
      return;
    }
    env.ifindex = ifr.ifr_ifindex;
    env.packet.reset(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kEtherType)));
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(kEtherType);
    addr.sll_ifindex = env.ifindex;
    if (!env.packet ||
        ::bind(env.packet.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      env.skip = std::string("AF_PACKET socket: ") + std::strerror(errno);
    }
  }).join();
  return env;
}

// A socket in the tap's namespace (sockets stay in the namespace they were made in).
UniqueFd socket_in(const TapEnv& env, int domain, int type, int protocol) {
  UniqueFd fd;
  std::thread([&] {
    if (::setns(env.netns.get(), CLONE_NEWNET) == 0) {
      fd.reset(::socket(domain, type | SOCK_CLOEXEC, protocol));
    }
  }).join();
  return fd;
}

std::vector<uint8_t> ethernet(const MacAddress& dst, const MacAddress& src, size_t payload) {
  std::vector<uint8_t> f(dst.begin(), dst.end());
  f.insert(f.end(), src.begin(), src.end());
  f.push_back(kEtherType >> 8);
  f.push_back(kEtherType & 0xff);
  for (size_t i = 0; i < payload; ++i) f.push_back(static_cast<uint8_t>(i * 7 + 3));
  return f;
}

// ETHTOOL_GTSO / ETHTOOL_GTXCSUM of the tap, through any socket in its namespace.
bool ethtool_flag(int sock, uint32_t cmd) {
  ethtool_value value{};
  value.cmd = cmd;
  ifreq ifr{};
  std::strcpy(ifr.ifr_name, "embtest0");
  ifr.ifr_data = reinterpret_cast<char*>(&value);
  EXPECT_EQ(::ioctl(sock, SIOCETHTOOL, &ifr), 0) << std::strerror(errno);
  return value.data != 0;
}

// An Ethernet + IPv4 + TCP frame with `payload` bytes, as one TSO super-frame carries it.
std::vector<uint8_t> tcp_frame(const MacAddress& dst, const MacAddress& src, size_t payload) {
  std::vector<uint8_t> f(dst.begin(), dst.end());
  f.insert(f.end(), src.begin(), src.end());
  f.push_back(0x08);
  f.push_back(0x00);
  // Version 4, DF, TTL 64, TCP, 172.16.0.2 -> 93.184.216.34; length and checksum below.
  const uint8_t ip[20] = {0x45, 0, 0,   0,  0, 1, 0x40, 0,   64,  6,
                          0,    0, 172, 16, 0, 2, 93,   184, 216, 34};
  f.insert(f.end(), ip, ip + 20);
  const size_t ip_len = 20 + 20 + payload;
  f[14 + 2] = static_cast<uint8_t>(ip_len >> 8);
  f[14 + 3] = static_cast<uint8_t>(ip_len);
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) sum += (f[14 + i] << 8) | f[14 + i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  f[14 + 10] = static_cast<uint8_t>(~sum >> 8);
  f[14 + 11] = static_cast<uint8_t>(~sum);
  const uint8_t tcp[20] = {0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff};
  f.insert(f.end(), tcp, tcp + 20);
  for (size_t i = 0; i < payload; ++i) f.push_back(static_cast<uint8_t>(i % 251));
  return f;
}

// The header a TSO super-frame of tcp_frame() carries: checksum to fill in, 1448-byte MSS.
VirtioNetHeader tso_header() {
  VirtioNetHeader h{};
  h.flags = net::kHdrFlagNeedsCsum;
  h.gso_type = net::kGsoTcpv4;
  h.hdr_len = 54;
  h.gso_size = 1448;
  h.csum_start = 34;
  h.csum_offset = 16;
  return h;
}

class NetTapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = make_tap_env();
    if (!env_.skip.empty()) GTEST_SKIP() << "no tap here: " << env_.skip;
    mem_ = std::move(GuestMemory::create_anonymous(kTestMemSize).value());
    loop_ = std::make_unique<EventLoop>(std::move(EventLoop::create().value()));
    auto n = Net::create(std::move(env_.tap), {kGuestMac}, *loop_);
    ASSERT_TRUE(n.ok()) << n.error().message();
    net_ = n->get();
    auto t = MmioTransport::create(mem_, *loop_, std::move(*n));
    ASSERT_TRUE(t.ok());
    transport_ = std::move(*t);
    driver_ = std::make_unique<TestDriver>(*transport_, mem_);
    ASSERT_EQ(driver_->init(), 0xfu);
    drain(*loop_);
  }

  TapEnv env_;
  GuestMemory mem_;
  std::unique_ptr<EventLoop> loop_;
  Net* net_ = nullptr;
  std::unique_ptr<MmioTransport> transport_;
  std::unique_ptr<TestDriver> driver_;
};

TEST_F(NetTapTest, GuestTsoFrameGoesOutWhole) {
  UniqueFd ip_sock = socket_in(env_, AF_PACKET, SOCK_RAW, htons(0x0800));
  ASSERT_TRUE(ip_sock);
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(0x0800);
  addr.sll_ifindex = env_.ifindex;
  ASSERT_EQ(::bind(ip_sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const auto frame = tcp_frame(kHostMac, kGuestMac, 20000);
  const VirtioNetHeader h = tso_header();
  std::vector<uint8_t> chain(reinterpret_cast<const uint8_t*>(&h),
                             reinterpret_cast<const uint8_t*>(&h) + sizeof(h));
  chain.insert(chain.end(), frame.begin(), frame.end());
  const uint64_t tx = driver_->alloc(static_cast<uint32_t>(chain.size()));
  driver_->write_mem(tx, chain);
  driver_->add_chain(Net::kTxQueue, {{tx, static_cast<uint32_t>(chain.size()), false}});
  driver_->kick(Net::kTxQueue);
  drain(*loop_);
  EXPECT_EQ(net_->counters().tx_frames, 1u) << "the tap refused the TSO header";
  pollfd p{ip_sock.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  std::vector<uint8_t> got(65536);
  const ssize_t len = ::recv(ip_sock.get(), got.data(), got.size(), 0);
  EXPECT_EQ(len, static_cast<ssize_t>(frame.size())) << "segmented, or truncated";
}

TEST_F(NetTapTest, HostTsoFrameReachesTheGuestInMergeableBuffers) {
  std::vector<uint64_t> rx;
  for (int i = 0; i < 128; ++i) {
    rx.push_back(driver_->alloc(1536));
    driver_->add_chain(Net::kRxQueue, {{rx.back(), 1536, true}});
  }
  driver_->kick(Net::kRxQueue);
  drain(*loop_);
  // A packet socket with PACKET_VNET_HDR sends a GSO frame; the tap, with TSO on, passes
  // it up unsegmented.
  UniqueFd sock = socket_in(env_, AF_PACKET, SOCK_RAW, 0);
  ASSERT_TRUE(sock);
  const int on = 1;
  ASSERT_EQ(::setsockopt(sock.get(), SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)), 0);
  const auto frame = tcp_frame(kGuestMac, kHostMac, 20000);
  const VirtioNetHeader h = tso_header();
  std::vector<uint8_t> msg(reinterpret_cast<const uint8_t*>(&h),
                           reinterpret_cast<const uint8_t*>(&h) + 10);  // virtio_net_hdr
  msg.insert(msg.end(), frame.begin(), frame.end());
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = env_.ifindex;
  to.sll_protocol = htons(0x0800);
  ASSERT_EQ(
      ::sendto(sock.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
      static_cast<ssize_t>(msg.size()))
      << std::strerror(errno);
  for (int i = 0; i < 200 && driver_->used_idx(Net::kRxQueue) == 0; ++i) {
    ASSERT_TRUE(loop_->run_once(10).ok());
  }
  std::vector<uint8_t> got;
  uint16_t buffers = 0;
  while (auto used = driver_->next_used(Net::kRxQueue)) {
    auto part = driver_->read_mem(rx.at(used->id), used->len);
    if (got.empty()) std::memcpy(&buffers, &part[10], 2);
    got.insert(got.end(), part.begin(), part.end());
  }
  const size_t want_buffers = (kHdr + frame.size() + 1535) / 1536;
  EXPECT_EQ(buffers, want_buffers);
  ASSERT_EQ(got.size(), kHdr + frame.size()) << "segmented by the host, or truncated";
  VirtioNetHeader landed{};
  std::memcpy(&landed, got.data(), sizeof(landed));
  EXPECT_EQ(landed.gso_type, net::kGsoTcpv4);
  EXPECT_EQ(landed.gso_size, 1448);
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + kHdr, got.end()), frame);
}

TEST(NetTap, FramesBothWaysWithTheTwelveByteHeaderAndOffloads) {
  TapEnv env = make_tap_env();
  if (!env.skip.empty()) GTEST_SKIP() << "no tap here: " << env.skip;
  GuestMemory mem = std::move(GuestMemory::create_anonymous(kTestMemSize).value());
  EventLoop loop = std::move(EventLoop::create().value());
  const int tap_fd = env.tap.get();
  auto n = Net::create(std::move(env.tap), {kGuestMac}, loop);
  ASSERT_TRUE(n.ok()) << n.error().message();
  Net* net = n->get();
  EXPECT_TRUE(net->is_tap());
  EXPECT_EQ(net->tap_name(), "embtest0");
  int hdr_size = 0;
  ASSERT_EQ(::ioctl(tap_fd, TUNGETVNETHDRSZ, &hdr_size), 0);
  EXPECT_EQ(hdr_size, 12);
  EXPECT_FALSE(ethtool_flag(env.packet.get(), ETHTOOL_GTSO)) << "offloads before the driver";

  auto t = MmioTransport::create(mem, loop, std::move(*n));
  ASSERT_TRUE(t.ok());
  TestDriver driver(**t, mem);
  ASSERT_EQ(driver.init(), 0xfu);
  drain(loop);
  EXPECT_TRUE(ethtool_flag(env.packet.get(), ETHTOOL_GTSO)) << "GUEST_TSO4 acked, tap TSO off";
  EXPECT_TRUE(ethtool_flag(env.packet.get(), ETHTOOL_GTXCSUM));

  // Guest to host: the host sees the Ethernet frame, header stripped at exactly 12 bytes.
  const auto out = ethernet(kHostMac, kGuestMac, 200);
  std::vector<uint8_t> chain(kHdr, 0);
  chain.insert(chain.end(), out.begin(), out.end());
  const uint64_t tx = driver.alloc(static_cast<uint32_t>(chain.size()));
  driver.write_mem(tx, chain);
  driver.add_chain(Net::kTxQueue, {{tx, static_cast<uint32_t>(chain.size()), false}});
  driver.kick(Net::kTxQueue);
  drain(loop);
  pollfd p{env.packet.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1) << "nothing arrived on the tap";
  std::vector<uint8_t> got(4096);
  const ssize_t len = ::recv(env.packet.get(), got.data(), got.size(), 0);
  ASSERT_GT(len, 0);
  got.resize(static_cast<size_t>(len));
  EXPECT_EQ(got, out);

  // Host to guest: a frame sent out of the tap lands in an RX buffer after a header.
  std::vector<uint64_t> rx;
  for (int i = 0; i < 64; ++i) {
    rx.push_back(driver.alloc(1536));
    driver.add_chain(Net::kRxQueue, {{rx.back(), 1536, true}});
  }
  driver.kick(Net::kRxQueue);
  drain(loop);
  const auto in = ethernet(kGuestMac, kHostMac, 300);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = env.ifindex;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, kGuestMac.data(), 6);
  ASSERT_EQ(::sendto(env.packet.get(), in.data(), in.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof(to)),
            static_cast<ssize_t>(in.size()));
  std::optional<VirtqUsedElem> used;
  for (int i = 0; i < 200 && !used; ++i) {
    ASSERT_TRUE(loop.run_once(10).ok());
    used = driver.next_used(Net::kRxQueue);
  }
  ASSERT_TRUE(used.has_value()) << "the frame never reached the guest";
  EXPECT_EQ(used->len, kHdr + in.size());
  const auto landed = driver.read_mem(rx.at(used->id), used->len);
  EXPECT_EQ(landed[10], 1) << "num_buffers";
  EXPECT_EQ(std::vector<uint8_t>(landed.begin() + kHdr, landed.end()), in);
  EXPECT_EQ(net->counters().rx_frames, 1u);
  EXPECT_EQ(net->counters().tx_frames, 1u);
}

}  // namespace
}  // namespace ember::vmm::virtio
