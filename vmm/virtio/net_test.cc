// Tests for Net over a SOCK_SEQPACKET socketpair: TX, RX, waiting for buffers, mergeable
// buffers, malformed queues, backpressure, a vanished peer and save/restore.
#include "vmm/virtio/net.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "vmm/virtio/mmio_transport.h"
#include "vmm/virtio/test_driver.h"

namespace ember::vmm::virtio {
namespace {

using testing::drain;
using testing::kTestMemSize;
using testing::TestDriver;

constexpr uint32_t kHdr = Net::kHeaderSize;
constexpr uint64_t kAll = ~uint64_t{0};
// What a driver without mergeable buffers or guest offloads acks.
constexpr uint64_t kPlain = feature_bit(kFeatureVersion1) | feature_bit(net::kFeatureMac) |
                            feature_bit(net::kFeatureStatus);

// A frame as the backend carries it: a header (num_buffers poisoned), then `len` bytes.
std::vector<uint8_t> make_frame(size_t len, uint8_t seed) {
  std::vector<uint8_t> f(kHdr + len);
  f[0] = net::kHdrFlagDataValid;
  f[10] = 0x5a;  // num_buffers: the device must overwrite it
  f[11] = 0x5a;
  for (size_t i = 0; i < len; ++i) f[kHdr + i] = static_cast<uint8_t>(seed + i * 13 + i / 256);
  return f;
}

struct SocketPair {
  UniqueFd device;
  UniqueFd peer;
};

SocketPair socket_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

class NetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_ = std::move(GuestMemory::create_anonymous(kTestMemSize).value());
    loop_ = std::make_unique<EventLoop>(std::move(EventLoop::create().value()));
  }

  // Creates the device over a fresh socketpair and initializes the driver with `wanted`.
  void start(uint64_t wanted = kAll, uint16_t queue_size = 256, int sndbuf = 0) {
    SocketPair sp = socket_pair();
    if (sndbuf > 0) {
      ASSERT_EQ(::setsockopt(sp.device.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    }
    peer_ = std::move(sp.peer);
    transport_.reset();
    // Rings left by an earlier start() in the same test would confuse the new driver.
    ASSERT_TRUE(mem_.write(0x10000, std::vector<uint8_t>(0x30000, 0)).ok());
    auto n = Net::create(std::move(sp.device), {}, *loop_);
    ASSERT_TRUE(n.ok()) << n.error().message();
    net_ = n->get();
    EXPECT_FALSE(net_->is_tap());
    auto t = MmioTransport::create(mem_, *loop_, std::move(*n));
    ASSERT_TRUE(t.ok());
    transport_ = std::move(*t);
    driver_ = std::make_unique<TestDriver>(*transport_, mem_);
    ASSERT_EQ(driver_->init(wanted, queue_size), 0xfu);
    drain(*loop_);
  }

  bool needs_reset() { return (transport_->status() & kStatusNeedsReset) != 0; }

  // Posts `count` RX buffers of `len` bytes, one chain each; returns their addresses.
  std::vector<uint64_t> post_rx(uint32_t len, int count = 1) {
    std::vector<uint64_t> addrs;
    for (int i = 0; i < count; ++i) {
      addrs.push_back(driver_->alloc(len));
      driver_->add_chain(Net::kRxQueue, {{addrs.back(), len, true}});
    }
    driver_->kick(Net::kRxQueue);
    drain(*loop_);
    return addrs;
  }

  // Puts `frame` in guest memory as a TX chain of the given piece sizes (0: the rest).
  void send_tx(const std::vector<uint8_t>& frame, std::vector<uint32_t> pieces = {kHdr, 0}) {
    std::vector<TestDriver::Buf> bufs;
    size_t at = 0;
    for (uint32_t piece : pieces) {
      const uint32_t len = piece == 0 ? static_cast<uint32_t>(frame.size() - at) : piece;
      const uint64_t addr = driver_->alloc(len);
      driver_->write_mem(addr, {frame.begin() + at, frame.begin() + at + len});
      bufs.push_back({addr, len, false});
      at += len;
    }
    driver_->add_chain(Net::kTxQueue, bufs);
    driver_->kick(Net::kTxQueue);
    drain(*loop_);
  }

  void peer_send(const std::vector<uint8_t>& frame) {
    ASSERT_EQ(::send(peer_.get(), frame.data(), frame.size(), MSG_DONTWAIT),
              static_cast<ssize_t>(frame.size()));
    drain(*loop_);
  }

  // The next frame the device wrote to the peer, or nothing.
  std::optional<std::vector<uint8_t>> peer_recv() {
    std::vector<uint8_t> buf(Net::kMaxFrame + 100);
    const ssize_t n = ::recv(peer_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }

  uint64_t interrupts() {
    uint64_t count = 0;
    return ::read(transport_->irq_fd(), &count, sizeof(count)) == 8 ? count : 0;
  }

  GuestMemory mem_;
  std::unique_ptr<EventLoop> loop_;
  UniqueFd peer_;
  Net* net_ = nullptr;
  std::unique_ptr<MmioTransport> transport_;
  std::unique_ptr<TestDriver> driver_;
};

TEST_F(NetTest, FeaturesAndConfig) {
  start();
  EXPECT_EQ(driver_->read32(mmio::kDeviceId), kDeviceIdNet);
  const uint64_t f = net_->features();
  for (uint32_t bit : {kFeatureVersion1, net::kFeatureCsum, net::kFeatureGuestCsum,
                       net::kFeatureMac, net::kFeatureStatus, net::kFeatureHostTso4,
                       net::kFeatureGuestTso4, net::kFeatureMrgRxbuf}) {
    EXPECT_TRUE(f & feature_bit(bit)) << "feature bit " << bit << " not offered";
  }
  for (uint32_t bit : {net::kFeatureCtrlVq, net::kFeatureMq, net::kFeatureGuestUfo,
                       net::kFeatureHostUfo, net::kFeatureGuestTso6}) {
    EXPECT_FALSE(f & feature_bit(bit)) << "feature bit " << bit << " offered";
  }
  const uint64_t config = driver_->read_config64(0);
  const uint8_t mac[6] = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02};
  EXPECT_EQ(std::memcmp(&config, mac, 6), 0);
  EXPECT_EQ(config >> 48, net::kStatusLinkUp);
}

TEST_F(NetTest, TxFrameReachesThePeerWithItsHeader) {
  start();
  const auto frame = make_frame(1000, 1);
  send_tx(frame, {kHdr, 300, 0});
  auto got = peer_recv();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, frame);
  auto used = driver_->next_used(Net::kTxQueue);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->len, 0u);
  EXPECT_GT(interrupts(), 0u);
  // One buffer holding header and data, through an indirect table.
  const auto second = make_frame(60, 2);
  const uint64_t addr = driver_->alloc(static_cast<uint32_t>(second.size()));
  driver_->write_mem(addr, second);
  driver_->add_indirect(Net::kTxQueue, {{addr, static_cast<uint32_t>(second.size()), false}});
  driver_->kick(Net::kTxQueue);
  drain(*loop_);
  EXPECT_EQ(peer_recv(), second);
  EXPECT_EQ(net_->counters().tx_frames, 2u);
  EXPECT_EQ(net_->counters().tx_bytes, frame.size() + second.size());
}

TEST_F(NetTest, TxFramesWithBadSizesAreDroppedNotSent) {
  start();
  send_tx(std::vector<uint8_t>(kHdr - 1, 0), {0});  // no room for a header
  const uint64_t big = driver_->alloc(Net::kMaxFrame + 1);
  driver_->add_chain(Net::kTxQueue, {{big, Net::kMaxFrame + 1, false}});
  driver_->kick(Net::kTxQueue);
  drain(*loop_);
  EXPECT_FALSE(peer_recv().has_value());
  EXPECT_TRUE(driver_->next_used(Net::kTxQueue).has_value());
  EXPECT_TRUE(driver_->next_used(Net::kTxQueue).has_value());
  EXPECT_EQ(net_->counters().tx_dropped, 2u);
  EXPECT_FALSE(needs_reset());
}

TEST_F(NetTest, RxFrameLandsInABufferWithTheRightUsedLength) {
  start(kPlain);
  const uint64_t buf = post_rx(2048).at(0);
  (void)interrupts();
  const auto frame = make_frame(100, 3);
  peer_send(frame);
  auto used = driver_->next_used(Net::kRxQueue);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->len, frame.size());
  auto want = frame;
  want[10] = 1;  // num_buffers
  want[11] = 0;
  EXPECT_EQ(driver_->read_mem(buf, frame.size()), want);
  EXPECT_GT(interrupts(), 0u);
  EXPECT_EQ(net_->counters().rx_frames, 1u);
}

TEST_F(NetTest, RxSplitAcrossTheBuffersOfOneChain) {
  start(kPlain);
  const uint64_t a = driver_->alloc(kHdr), b = driver_->alloc(1600);
  driver_->add_chain(Net::kRxQueue, {{a, kHdr, true}, {b, 1600, true}});
  driver_->kick(Net::kRxQueue);
  drain(*loop_);
  const auto frame = make_frame(1514, 4);
  peer_send(frame);
  auto used = driver_->next_used(Net::kRxQueue);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->len, frame.size());
  EXPECT_EQ(driver_->read_mem(b, 1514), std::vector<uint8_t>(frame.begin() + kHdr, frame.end()));
}

TEST_F(NetTest, RxWithoutBuffersWaitsWithoutPollingThenDeliversAfterAKick) {
  start(kPlain);
  const auto frame = make_frame(200, 5);
  peer_send(frame);  // drains: a device polling the readable fd would never go idle
  auto idle = loop_->run_once(0);
  ASSERT_TRUE(idle.ok());
  EXPECT_EQ(*idle, 0) << "the device polls the backend with no RX buffers";
  EXPECT_FALSE(driver_->next_used(Net::kRxQueue).has_value());
  const uint64_t buf = post_rx(2048).at(0);
  auto used = driver_->next_used(Net::kRxQueue);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->len, frame.size());
  EXPECT_EQ(driver_->read_mem(buf + kHdr, 200),
            std::vector<uint8_t>(frame.begin() + kHdr, frame.end()));
  // Used up again: the next frame waits for the next buffer.
  peer_send(make_frame(50, 6));
  EXPECT_FALSE(driver_->next_used(Net::kRxQueue).has_value());
  post_rx(2048);
  ASSERT_TRUE(driver_->next_used(Net::kRxQueue).has_value());
}

TEST_F(NetTest, RxFrameLargerThanTheBufferIsDroppedWithoutOverflow) {
  start(kPlain);
  const uint64_t buf = driver_->alloc(100);
  const uint64_t guard = driver_->alloc(64);
  driver_->write_mem(guard, std::vector<uint8_t>(64, 0xaa));
  driver_->add_chain(Net::kRxQueue, {{buf, 100, true}});
  driver_->kick(Net::kRxQueue);
  drain(*loop_);
  peer_send(make_frame(500, 7));
  EXPECT_FALSE(driver_->next_used(Net::kRxQueue).has_value());
  EXPECT_EQ(net_->counters().rx_dropped, 1u);
  EXPECT_EQ(driver_->read_mem(guard, 64), std::vector<uint8_t>(64, 0xaa));
  EXPECT_FALSE(needs_reset());
  // The buffer stays posted and takes the next frame that fits.
  const auto small = make_frame(50, 8);
  peer_send(small);
  auto used = driver_->next_used(Net::kRxQueue);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->len, small.size());
}

TEST_F(NetTest, RuntFrameIsDropped) {
  start(kPlain);
  post_rx(2048);
  peer_send({1, 2, 3});
  EXPECT_FALSE(driver_->next_used(Net::kRxQueue).has_value());
  EXPECT_EQ(net_->counters().rx_dropped, 1u);
}

TEST_F(NetTest, MergeableFrameSpansBuffersPublishedTogether) {
  start(kAll);  // MRG_RXBUF and GUEST_TSO4: a frame may need 64 KiB of buffers
  const auto bufs = post_rx(1536, 64);
  const auto frame = make_frame(5000, 9);
  peer_send(frame);
  EXPECT_EQ(driver_->used_idx(Net::kRxQueue), 4);
  std::vector<uint8_t> got;
  for (int i = 0; i < 4; ++i) {
    auto used = driver_->next_used(Net::kRxQueue);
    ASSERT_TRUE(used.has_value());
    EXPECT_EQ(used->len, i < 3 ? 1536u : frame.size() - 3 * 1536u);
    auto part = driver_->read_mem(bufs[i], used->len);
    got.insert(got.end(), part.begin(), part.end());
  }
  EXPECT_EQ(got[10], 4) << "num_buffers";
  EXPECT_EQ(got[11], 0);
  got[10] = frame[10];
  got[11] = frame[11];
  EXPECT_EQ(got, frame);
  // The next frame starts in the fifth buffer.
  peer_send(make_frame(10, 10));
  auto used = driver_->next_used(Net::kRxQueue);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->id, 4u);
  EXPECT_EQ(used->len, kHdr + 10);
}

TEST_F(NetTest, MergeableWaitsUntilBuffersCoverATsoFrame) {
  start(kAll);
  post_rx(1536, 8);  // 12 KiB: less than a 64 KiB frame needs, little of the ring
  peer_send(make_frame(100, 11));
  EXPECT_FALSE(driver_->next_used(Net::kRxQueue).has_value());
  post_rx(1536, 40);  // 72 KiB in all
  auto used = driver_->next_used(Net::kRxQueue);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->len, kHdr + 100);
}

TEST_F(NetTest, MergeableOnASmallRingUsesWhatItHas) {
  start(kAll, 8);
  post_rx(1536, 4);                  // half the ring: waiting for more might never end
  peer_send(make_frame(10000, 12));  // more than all four buffers
  EXPECT_EQ(driver_->used_idx(Net::kRxQueue), 0);
  EXPECT_EQ(net_->counters().rx_dropped, 1u);
  const auto frame = make_frame(3000, 13);
  peer_send(frame);
  EXPECT_EQ(driver_->used_idx(Net::kRxQueue), 2);
  EXPECT_FALSE(needs_reset());
}

TEST_F(NetTest, MalformedTxChainsNeedReset) {
  struct Case {
    const char* name;
    std::vector<TestDriver::Buf> bufs;
  };
  const std::vector<Case> cases = {
      {"descriptor outside guest RAM", {{kTestMemSize - 8, 64, false}}},
      {"huge length", {{1 << 20, 0xffffff00u, false}}},
      {"writable-only TX buffers", {{1 << 20, 64, true}}},
      {"writable after the header", {{1 << 20, kHdr, false}, {(1 << 20) + 64, 64, true}}},
  };
  for (const Case& c : cases) {
    start();
    driver_->add_chain(Net::kTxQueue, c.bufs);
    driver_->kick(Net::kTxQueue);
    drain(*loop_);
    EXPECT_TRUE(needs_reset()) << c.name;
    EXPECT_FALSE(peer_recv().has_value()) << c.name;
    EXPECT_FALSE(driver_->next_used(Net::kTxQueue).has_value()) << c.name;
  }
}

TEST_F(NetTest, DescriptorLoopNeedsReset) {
  start();
  const uint64_t a = driver_->alloc(64);
  driver_->write_desc(Net::kTxQueue, 0, {a, 32, kDescFlagNext, 1});
  driver_->write_desc(Net::kTxQueue, 1, {a + 32, 32, kDescFlagNext, 0});
  driver_->publish(Net::kTxQueue, 0);
  driver_->kick(Net::kTxQueue);
  drain(*loop_);
  EXPECT_TRUE(needs_reset());
}

TEST_F(NetTest, MalformedRxChainsNeedResetAndStopPolling) {
  struct Case {
    const char* name;
    std::vector<TestDriver::Buf> bufs;
  };
  const std::vector<Case> cases = {
      {"descriptor outside guest RAM", {{kTestMemSize - 8, 2048, true}}},
      {"huge length", {{1 << 20, 0xfffff000u, true}}},
      {"buffer smaller than the header", {{1 << 20, 8, true}}},
      {"device-readable RX buffer", {{1 << 20, 2048, false}}},
  };
  for (const Case& c : cases) {
    start(kPlain);
    driver_->add_chain(Net::kRxQueue, c.bufs);
    driver_->kick(Net::kRxQueue);
    drain(*loop_);
    EXPECT_TRUE(needs_reset()) << c.name;
    peer_send(make_frame(100, 14));  // drain would fail on a busy loop
    EXPECT_FALSE(driver_->next_used(Net::kRxQueue).has_value()) << c.name;
  }
}

TEST_F(NetTest, AvailIndexRunningAheadNeedsReset) {
  start(kPlain);
  ASSERT_TRUE(mem_.write_obj<uint16_t>(driver_->avail_addr(Net::kRxQueue) + 2, 1000).ok());
  driver_->kick(Net::kRxQueue);
  drain(*loop_);
  EXPECT_TRUE(needs_reset());
}

TEST_F(NetTest, ResetAfterFailureWorksAgain) {
  start(kPlain);
  driver_->add_chain(Net::kTxQueue, {{1 << 20, 64, true}});
  driver_->kick(Net::kTxQueue);
  drain(*loop_);
  ASSERT_TRUE(needs_reset());
  ASSERT_TRUE(mem_.write(0x10000, std::vector<uint8_t>(0x30000, 0)).ok());
  driver_ = std::make_unique<TestDriver>(*transport_, mem_);
  ASSERT_EQ(driver_->init(kPlain), 0xfu);
  drain(*loop_);
  const auto frame = make_frame(64, 15);
  send_tx(frame);
  EXPECT_EQ(peer_recv(), frame);
}

TEST_F(NetTest, TxWaitsForRoomInTheBackendAndKeepsOrder) {
  start(kPlain, 256, 4096);  // a small send buffer fills after a few frames
  constexpr int kFrames = 64;
  for (int i = 0; i < kFrames; ++i) {
    auto frame = make_frame(1000, static_cast<uint8_t>(i));
    frame[kHdr] = static_cast<uint8_t>(i);
    const uint64_t addr = driver_->alloc(static_cast<uint32_t>(frame.size()));
    driver_->write_mem(addr, frame);
    driver_->add_chain(Net::kTxQueue, {{addr, static_cast<uint32_t>(frame.size()), false}});
  }
  driver_->kick(Net::kTxQueue);
  drain(*loop_);  // would not go idle if a full backend made the device spin
  EXPECT_LT(driver_->used_idx(Net::kTxQueue), kFrames) << "the send buffer never filled";
  int got = 0;
  for (int round = 0; round < 1000 && got < kFrames; ++round) {
    while (auto frame = peer_recv()) {
      ASSERT_EQ(frame->size(), kHdr + 1000u);
      EXPECT_EQ((*frame)[kHdr], got) << "frames out of order";
      ++got;
    }
    drain(*loop_);
  }
  EXPECT_EQ(got, kFrames);
  EXPECT_EQ(driver_->used_idx(Net::kTxQueue), kFrames);
  EXPECT_EQ(net_->counters().tx_dropped, 0u);
}

TEST_F(NetTest, PeerGoneTakesTheLinkDown) {
  start(kPlain);
  post_rx(2048);
  peer_.reset();
  drain(*loop_);
  EXPECT_EQ(driver_->read_config64(0) >> 48, 0u) << "link still up";
  EXPECT_TRUE(driver_->read32(mmio::kInterruptStatus) & kInterruptConfigChange);
  send_tx(make_frame(64, 16));  // completed and dropped, no SIGPIPE
  EXPECT_TRUE(driver_->next_used(Net::kTxQueue).has_value());
  EXPECT_EQ(net_->counters().tx_dropped, 1u);
  EXPECT_FALSE(needs_reset());
}

TEST_F(NetTest, SaveRestoreRoundTripServesTheFirstPacket) {
  NetConfig other;
  other.mac = {0x06, 0, 0, 0, 0, 0x99};
  start();
  const uint64_t rx = post_rx(2048, 64).at(0);
  send_tx(make_frame(64, 17));
  ASSERT_TRUE(peer_recv().has_value());
  // Published before the snapshot, never kicked: the restored device must send it.
  const auto pending = make_frame(80, 18);
  const uint64_t tx = driver_->alloc(static_cast<uint32_t>(pending.size()));
  driver_->write_mem(tx, pending);
  driver_->write_desc(Net::kTxQueue, 0, {tx, static_cast<uint32_t>(pending.size()), 0, 0});
  driver_->publish(Net::kTxQueue, 0);

  const Net::State saved = net_->save();
  EXPECT_EQ(saved.mac, (MacAddress{0x06, 0x00, 0xac, 0x10, 0x00, 0x02}));
  EXPECT_EQ(saved.acked_features, net_->features());
  const MmioTransport::State transport_state = transport_->save();
  transport_.reset();  // the old process is gone

  SocketPair sp = socket_pair();
  auto n = Net::create(std::move(sp.device), other, *loop_);
  ASSERT_TRUE(n.ok());
  Net* restored = n->get();
  Net::State bad = saved;
  bad.acked_features |= feature_bit(net::kFeatureCtrlVq);
  EXPECT_FALSE(restored->restore(bad).ok());
  ASSERT_TRUE(restored->restore(saved).ok());
  auto t = MmioTransport::create(mem_, *loop_, std::move(*n));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->restore(transport_state).ok());
  transport_ = std::move(*t);
  peer_ = std::move(sp.peer);
  drain(*loop_);
  EXPECT_EQ(peer_recv(), pending);

  const auto frame = make_frame(300, 19);
  peer_send(frame);
  EXPECT_EQ(mem_.read_obj<uint16_t>(driver_->used_addr(Net::kRxQueue) + 2).value(), 1);
  auto got = driver_->read_mem(rx, frame.size());
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + kHdr, got.end()),
            std::vector<uint8_t>(frame.begin() + kHdr, frame.end()));
  EXPECT_EQ(restored->mac(), saved.mac) << "the guest's MAC comes from the snapshot";
}

TEST(NetCreate, RefusesBackendsThatAreNotTapsOrFrameSockets) {
  auto loop = EventLoop::create().value();
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd keep(p[1]);
  NetConfig labelled;
  labelled.label = "--net-fd 5";
  auto pipe_net = Net::create(UniqueFd(p[0]), labelled, loop);
  ASSERT_FALSE(pipe_net.ok());
  EXPECT_NE(pipe_net.error().message().find("IFF_TAP|IFF_NO_PI|IFF_VNET_HDR"), std::string::npos)
      << pipe_net.error().message();
  EXPECT_NE(pipe_net.error().message().find("--net-fd 5"), std::string::npos);

  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  UniqueFd other(s[1]);
  EXPECT_FALSE(Net::create(UniqueFd(s[0]), {}, loop).ok()) << "a byte stream has no frames";

  EXPECT_FALSE(Net::create(UniqueFd(), {}, loop).ok());
  SocketPair sp = socket_pair();
  NetConfig multicast;
  multicast.mac = {0x01, 0, 0x5e, 0, 0, 1};
  EXPECT_FALSE(Net::create(std::move(sp.device), multicast, loop).ok());

  UniqueFd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (tun) {
    auto detached = Net::create(std::move(tun), {}, loop);
    ASSERT_FALSE(detached.ok());
    EXPECT_NE(detached.error().message().find("not attached"), std::string::npos)
        << detached.error().message();
  }
}

}  // namespace
}  // namespace ember::vmm::virtio
