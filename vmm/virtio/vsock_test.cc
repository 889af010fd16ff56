// Tests for Vsock: host CONNECT handshake, guest connects, data, credit, shutdown and RST.
#include "vmm/virtio/vsock.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "vmm/virtio/mmio_transport.h"
#include "vmm/virtio/test_driver.h"

namespace ember::vmm::virtio {
namespace {

using testing::drain;
using testing::kTestMemSize;
using testing::TestDriver;

constexpr uint64_t kGuestCid = 3;
constexpr uint32_t kRxBuf = 4096;

struct Packet {
  VsockHeader hdr;
  std::string data;
};

UniqueFd unix_socket() { return UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)); }

sockaddr_un address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  return a;
}

// Reads until `n` bytes or end of file or one second without data.
std::string read_host(int fd, size_t n) {
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) break;
    const ssize_t got = ::read(fd, buf, std::min(sizeof(buf), n - out.size()));
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

bool sees_eof(int fd) {
  char c;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 1000) == 1 && ::read(fd, &c, 1) == 0;
}

bool has_data(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

class VsockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-vsock-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    uds_ = dir_ + "/v.sock";
    mem_ = std::move(GuestMemory::create_anonymous(kTestMemSize).value());
    loop_ = std::make_unique<EventLoop>(std::move(EventLoop::create().value()));
    auto v = Vsock::create({kGuestCid, uds_}, *loop_);
    ASSERT_TRUE(v.ok()) << v.error().message();
    vsock_ = v->get();
    auto t = MmioTransport::create(mem_, *loop_, std::move(*v));
    ASSERT_TRUE(t.ok());
    transport_ = std::move(*t);
    driver_ = std::make_unique<TestDriver>(*transport_, mem_);
    ASSERT_EQ(driver_->init(), 0xfu);
    for (int i = 0; i < 32; ++i) post_rx(driver_->alloc(44), driver_->alloc(kRxBuf));
    for (int i = 0; i < 2; ++i)
      driver_->add_chain(Vsock::kEventQueue, {{driver_->alloc(4), 4, true}});
  }
  void TearDown() override {
    transport_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Linux 6.1's rx layout: a header descriptor, then a payload descriptor.
  void post_rx(uint64_t hdr, uint64_t buf) {
    rx_bufs_[driver_->add_chain(Vsock::kRxQueue, {{hdr, 44, true}, {buf, kRxBuf, true}})] = {hdr,
                                                                                             buf};
  }

  std::vector<Packet> recv_all() {
    drain(*loop_);
    std::vector<Packet> out;
    while (auto used = driver_->next_used(Vsock::kRxQueue)) {
      const auto [hdr_addr, buf_addr] = rx_bufs_.at(static_cast<uint16_t>(used->id));
      Packet p{mem_.read_obj<VsockHeader>(hdr_addr).value(), {}};
      EXPECT_EQ(used->len, 44 + p.hdr.len);
      if (p.hdr.len > 0) {
        const auto data = driver_->read_mem(buf_addr, p.hdr.len);
        p.data.assign(data.begin(), data.end());
      }
      out.push_back(p);
      post_rx(hdr_addr, buf_addr);
      driver_->kick(Vsock::kRxQueue);
    }
    return out;
  }
  Packet recv_one() {
    auto all = recv_all();
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? Packet{} : all[0];
  }

  static VsockHeader guest_hdr(uint16_t op, uint32_t src_port, uint32_t dst_port,
                               uint32_t flags = 0, uint32_t buf_alloc = 256 * 1024,
                               uint32_t fwd_cnt = 0) {
    return {kGuestCid, 2, src_port, dst_port, 0, 1, op, flags, buf_alloc, fwd_cnt};
  }

  void send(VsockHeader hdr, const std::string& payload = {}, bool fix_len = true) {
    if (fix_len) hdr.len = static_cast<uint32_t>(payload.size());
    const uint64_t h = driver_->alloc(44);
    ASSERT_TRUE(mem_.write_obj(h, hdr).ok());
    std::vector<TestDriver::Buf> bufs{{h, 44, false}};
    if (!payload.empty()) {
      const uint64_t p = driver_->alloc(static_cast<uint32_t>(payload.size()));
      driver_->write_mem(p, std::vector<uint8_t>(payload.begin(), payload.end()));
      bufs.push_back({p, static_cast<uint32_t>(payload.size()), false});
    }
    driver_->add_chain(Vsock::kTxQueue, bufs);
    driver_->kick(Vsock::kTxQueue);
    drain(*loop_);
  }

  // Host process connects to guest `port`; the guest accepts with `guest_buf_alloc`.
  // Returns the host socket (past "OK <port>\n") and sets the host-side port.
  UniqueFd host_connect(uint32_t port, uint32_t* local, uint32_t guest_buf_alloc = 256 * 1024,
                        const std::string& early = {}) {
    UniqueFd fd = unix_socket();
    const sockaddr_un a = address(uds_);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0);
    const std::string line = "CONNECT " + std::to_string(port) + "\n" + early;
    EXPECT_EQ(::write(fd.get(), line.data(), line.size()), static_cast<ssize_t>(line.size()));
    Packet req = recv_one();
    EXPECT_EQ(req.hdr.op, kOpRequest);
    EXPECT_EQ(req.hdr.dst_port, port);
    *local = req.hdr.src_port;
    EXPECT_FALSE(has_data(fd.get())) << "OK sent before the guest accepted";
    send(guest_hdr(kOpResponse, port, *local, 0, guest_buf_alloc));
    const std::string ok = "OK " + std::to_string(*local) + "\n";
    EXPECT_EQ(read_host(fd.get(), ok.size()), ok);
    return fd;
  }

  std::string dir_, uds_;
  GuestMemory mem_;
  std::unique_ptr<EventLoop> loop_;
  Vsock* vsock_ = nullptr;
  std::unique_ptr<MmioTransport> transport_;
  std::unique_ptr<TestDriver> driver_;
  std::map<uint16_t, std::pair<uint64_t, uint64_t>> rx_bufs_;
};

TEST_F(VsockTest, ConfigHoldsGuestCid) {
  EXPECT_EQ(driver_->read_config64(0), kGuestCid);
  EXPECT_EQ(driver_->read32(mmio::kDeviceId), kDeviceIdVsock);
}

TEST_F(VsockTest, HostConnectHandshakeAndDataBothWays) {
  UniqueFd host = unix_socket();
  const sockaddr_un a = address(uds_);
  ASSERT_EQ(::connect(host.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0);
  const std::string line = "CONNECT 1024\nearly";
  ASSERT_EQ(::write(host.get(), line.data(), line.size()), static_cast<ssize_t>(line.size()));
  Packet req = recv_one();
  EXPECT_EQ(req.hdr.op, kOpRequest);
  EXPECT_EQ(req.hdr.type, kVsockTypeStream);
  EXPECT_EQ(req.hdr.src_cid, 2u);
  EXPECT_EQ(req.hdr.dst_cid, kGuestCid);
  EXPECT_EQ(req.hdr.dst_port, 1024u);
  EXPECT_GE(req.hdr.src_port, 1u << 30);
  EXPECT_EQ(req.hdr.buf_alloc, kVsockBufAlloc);
  EXPECT_FALSE(has_data(host.get()));
  const uint32_t local = req.hdr.src_port;

  send(guest_hdr(kOpResponse, 1024, local));
  const std::string ok = "OK " + std::to_string(local) + "\n";
  EXPECT_EQ(read_host(host.get(), ok.size()), ok);
  Packet early = recv_one();
  EXPECT_EQ(early.hdr.op, kOpRw);
  EXPECT_EQ(early.hdr.dst_port, 1024u);
  EXPECT_EQ(early.data, "early") << "bytes after the CONNECT line were lost";

  ASSERT_EQ(::write(host.get(), "more", 4), 4);
  EXPECT_EQ(recv_one().data, "more");
  send(guest_hdr(kOpRw, 1024, local), "hello");
  EXPECT_EQ(read_host(host.get(), 5), "hello");
  EXPECT_EQ(vsock_->connection_count(), 1u);
}

TEST_F(VsockTest, BadConnectLineClosesSocket) {
  UniqueFd host = unix_socket();
  const sockaddr_un a = address(uds_);
  ASSERT_EQ(::connect(host.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::write(host.get(), "CONNECT x\n", 10), 10);
  EXPECT_TRUE(recv_all().empty());
  EXPECT_TRUE(sees_eof(host.get()));
}

TEST_F(VsockTest, GuestCreditLimitsHostToGuest) {
  uint32_t local = 0;
  UniqueFd host = host_connect(1024, &local, /*guest_buf_alloc=*/8);
  ASSERT_EQ(::write(host.get(), "abcdefghijklmnopqrst", 20), 20);
  auto collect = [&] {
    std::string got;
    for (const Packet& p : recv_all()) got += p.data;
    return got;
  };
  EXPECT_EQ(collect(), "abcdefgh");
  send(guest_hdr(kOpCreditUpdate, 1024, local, 0, 8, 8));
  EXPECT_EQ(collect(), "ijklmnop");
  send(guest_hdr(kOpCreditUpdate, 1024, local, 0, 8, 16));
  EXPECT_EQ(collect(), "qrst");
}

TEST_F(VsockTest, CreditRequestAndUnpromptedCreditUpdate) {
  uint32_t local = 0;
  UniqueFd host = host_connect(1024, &local);
  send(guest_hdr(kOpCreditRequest, 1024, local));
  Packet update = recv_one();
  EXPECT_EQ(update.hdr.op, kOpCreditUpdate);
  EXPECT_EQ(update.hdr.fwd_cnt, 0u);
  EXPECT_EQ(update.hdr.buf_alloc, kVsockBufAlloc);

  const std::string chunk(4096, 'x');
  for (int i = 0; i < 20; ++i) send(guest_hdr(kOpRw, 1024, local), chunk);
  EXPECT_EQ(read_host(host.get(), 20 * 4096).size(), 20u * 4096);
  uint32_t best = 0;
  for (const Packet& p : recv_all()) {
    if (p.hdr.op == kOpCreditUpdate) best = std::max(best, p.hdr.fwd_cnt);
  }
  EXPECT_GE(best, kVsockCreditUpdateThreshold) << "guest never told about forwarded bytes";
}

TEST_F(VsockTest, GuestOverrunningCreditIsReset) {
  uint32_t local = 0;
  UniqueFd host = host_connect(1024, &local);
  const std::string chunk(4096, 'y');
  bool reset = false;
  for (int i = 0; i < 1024 && !reset; ++i) {
    send(guest_hdr(kOpRw, 1024, local), chunk);
    for (const Packet& p : recv_all()) reset |= p.hdr.op == kOpRst;
  }
  EXPECT_TRUE(reset);
  EXPECT_EQ(vsock_->connection_count(), 0u);
}

TEST_F(VsockTest, GuestConnectsToHostPortSocket) {
  UniqueFd listener = unix_socket();
  const sockaddr_un a = address(uds_ + "_1025");
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  send(guest_hdr(kOpRequest, 5000, 1025));
  Packet resp = recv_one();
  EXPECT_EQ(resp.hdr.op, kOpResponse);
  EXPECT_EQ(resp.hdr.src_port, 1025u);
  EXPECT_EQ(resp.hdr.dst_port, 5000u);
  UniqueFd peer(::accept(listener.get(), nullptr, nullptr));
  ASSERT_TRUE(peer.valid());
  send(guest_hdr(kOpRw, 5000, 1025), "ping");
  EXPECT_EQ(read_host(peer.get(), 4), "ping");
  ASSERT_EQ(::write(peer.get(), "pong", 4), 4);
  Packet data = recv_one();
  EXPECT_EQ(data.hdr.op, kOpRw);
  EXPECT_EQ(data.hdr.dst_port, 5000u);
  EXPECT_EQ(data.data, "pong");

  // Host half-closes: the guest hears SHUTDOWN(SEND) and may still send.
  ASSERT_EQ(::shutdown(peer.get(), SHUT_WR), 0);
  Packet shut = recv_one();
  EXPECT_EQ(shut.hdr.op, kOpShutdown);
  EXPECT_EQ(shut.hdr.flags, kShutdownSend);
  send(guest_hdr(kOpRw, 5000, 1025), "late");
  EXPECT_EQ(read_host(peer.get(), 4), "late");
  // Guest closes: it gets the RST it waits for and the host sees end of file.
  send(guest_hdr(kOpShutdown, 5000, 1025, kShutdownSend | kShutdownRcv));
  EXPECT_EQ(recv_one().hdr.op, kOpRst);
  EXPECT_TRUE(sees_eof(peer.get()));
  EXPECT_EQ(vsock_->connection_count(), 0u);
}

TEST_F(VsockTest, GuestConnectWithoutListenerIsReset) {
  send(guest_hdr(kOpRequest, 5000, 4444));
  Packet rst = recv_one();
  EXPECT_EQ(rst.hdr.op, kOpRst);
  EXPECT_EQ(rst.hdr.src_port, 4444u);
  EXPECT_EQ(rst.hdr.dst_port, 5000u);
  EXPECT_EQ(vsock_->connection_count(), 0u);
}

TEST_F(VsockTest, HostCloseSendsFullShutdown) {
  uint32_t local = 0;
  UniqueFd host = host_connect(1024, &local);
  host.reset();
  Packet shut = recv_one();
  EXPECT_EQ(shut.hdr.op, kOpShutdown);
  EXPECT_EQ(shut.hdr.flags, kShutdownSend | kShutdownRcv);
  send(guest_hdr(kOpRst, 1024, local));
  EXPECT_EQ(vsock_->connection_count(), 0u);
}

TEST_F(VsockTest, BadPacketsAreResetOrDropped) {
  VsockHeader wrong_type = guest_hdr(kOpRequest, 5000, 1025);
  wrong_type.type = 2;
  send(wrong_type);
  EXPECT_EQ(recv_one().hdr.op, kOpRst);

  VsockHeader long_len = guest_hdr(kOpRw, 5000, 1025);
  long_len.len = 100;  // only 10 bytes follow
  send(long_len, "0123456789", /*fix_len=*/false);
  EXPECT_EQ(recv_one().hdr.op, kOpRst);

  send(guest_hdr(kOpRw, 5000, 1025), "no such connection");
  EXPECT_EQ(recv_one().hdr.op, kOpRst);

  send(guest_hdr(kOpRst, 5000, 1025));
  VsockHeader spoofed = guest_hdr(kOpRw, 5000, 1025);
  spoofed.src_cid = 7;
  send(spoofed, "x");
  EXPECT_TRUE(recv_all().empty()) << "answered an RST or a spoofed packet";

  // Shorter than a header: consumed and ignored.
  driver_->add_chain(Vsock::kTxQueue, {{driver_->alloc(20), 20, false}});
  driver_->kick(Vsock::kTxQueue);
  drain(*loop_);
  EXPECT_TRUE(recv_all().empty());
  EXPECT_TRUE(transport_->active());

  uint32_t local = 0;
  UniqueFd host = host_connect(1024, &local);
  send(guest_hdr(99, 1024, local));
  EXPECT_EQ(recv_one().hdr.op, kOpRst);
  EXPECT_TRUE(sees_eof(host.get()));
}

TEST_F(VsockTest, TxWaitsWhileRstBacklogIsFull) {
  // A guest that sends garbage but never reads the answers stalls its own tx queue.
  constexpr int kPackets = 1100;
  for (int i = 0; i < kPackets; ++i) send(guest_hdr(kOpRw, 5000, 7), "x");
  const uint16_t stalled_at = driver_->used_idx(Vsock::kTxQueue);
  EXPECT_LT(stalled_at, kPackets) << "tx never applied back-pressure";
  EXPECT_GE(stalled_at, 1024);
  int rsts = 0;
  for (int round = 0; round < 200 && rsts < kPackets; ++round) {
    for (const Packet& p : recv_all()) rsts += p.hdr.op == kOpRst;
  }
  EXPECT_EQ(rsts, kPackets);
  EXPECT_EQ(driver_->used_idx(Vsock::kTxQueue), kPackets);
}

TEST_F(VsockTest, ManyConnectionsKeepTheirStreams) {
  constexpr int kConns = 8;
  std::vector<UniqueFd> hosts;
  std::vector<uint32_t> locals(kConns);
  for (int i = 0; i < kConns; ++i) hosts.push_back(host_connect(2000 + i, &locals[i]));
  for (int i = 0; i < kConns; ++i) {
    const std::string msg = "from host " + std::to_string(i);
    ASSERT_EQ(::write(hosts[i].get(), msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
  }
  std::map<uint32_t, std::string> got;
  for (const Packet& p : recv_all()) got[p.hdr.dst_port] += p.data;
  ASSERT_EQ(got.size(), static_cast<size_t>(kConns));
  for (int i = 0; i < kConns; ++i) {
    EXPECT_EQ(got[2000 + i], "from host " + std::to_string(i));
    send(guest_hdr(kOpRw, 2000 + i, locals[i]), "to host " + std::to_string(i));
  }
  for (int i = 0; i < kConns; ++i) {
    const std::string want = "to host " + std::to_string(i);
    EXPECT_EQ(read_host(hosts[i].get(), want.size()), want);
  }
  EXPECT_EQ(vsock_->connection_count(), static_cast<size_t>(kConns));
}

TEST_F(VsockTest, ResetAllConnectionsSendsTransportReset) {
  uint32_t local = 0;
  UniqueFd host = host_connect(1024, &local);
  vsock_->reset_all_connections();
  auto used = driver_->next_used(Vsock::kEventQueue);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->len, 4u);
  EXPECT_TRUE(sees_eof(host.get()));
  EXPECT_EQ(vsock_->connection_count(), 0u);
  EXPECT_TRUE(driver_->read32(mmio::kInterruptStatus) & kInterruptUsedBuffer);
}

TEST_F(VsockTest, HostConnectWaitsUntilTheGuestHandledTheReset) {
  vsock_->reset_all_connections();
  auto event = driver_->next_used(Vsock::kEventQueue);
  ASSERT_TRUE(event.has_value());
  UniqueFd host = unix_socket();
  const sockaddr_un a = address(uds_);
  ASSERT_EQ(::connect(host.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0);
  const std::string line = "CONNECT 1024\n";
  ASSERT_EQ(::write(host.get(), line.data(), line.size()), static_cast<ssize_t>(line.size()));
  EXPECT_TRUE(recv_all().empty()) << "request sent before the guest handled the reset";
  // The driver hands the event buffer back once it has handled the event.
  driver_->add_chain(Vsock::kEventQueue, {{driver_->alloc(4), 4, true}});
  driver_->kick(Vsock::kEventQueue);
  Packet req = recv_one();
  EXPECT_EQ(req.hdr.op, kOpRequest);
  EXPECT_EQ(req.hdr.dst_port, 1024u);
}

TEST_F(VsockTest, DriverResetClosesConnections) {
  uint32_t local = 0;
  UniqueFd host = host_connect(1024, &local);
  driver_->write32(mmio::kStatus, 0);
  EXPECT_TRUE(sees_eof(host.get()));
  EXPECT_EQ(vsock_->connection_count(), 0u);
}

}  // namespace
}  // namespace ember::vmm::virtio
