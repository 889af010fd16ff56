// vsock: guest packets on the tx queue (requests, stream data, credit, shutdown, reset)
// against a host with one listening port, replies and host data on the rx queue, and the
// transport-reset event.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/unix_socket.h"
#include "fuzz/fake_transport.h"
#include "fuzz/fuzz_support.h"
#include "fuzz/virtq_input.h"
#include "vmm/event_loop.h"
#include "vmm/virtio/vsock.h"

namespace ember::fuzz {
namespace {

using vmm::EventLoop;
using vmm::GuestMemory;
using vmm::virtio::Vsock;
using vmm::virtio::VsockHeader;

constexpr uint64_t kGuestCid = 3;
// The host listens on this vsock port (as emberd does on the agent's Ready port); guest
// requests to any other port are refused with a reset.
constexpr uint32_t kHostPort = 1025;

struct Device {
  std::string dir;
  EventLoop loop = EventLoop::create().value();
  GuestMemory mem = GuestMemory::create_anonymous(kFuzzMemSize).value();
  FuzzTransport transport{mem};
  std::unique_ptr<Vsock> vsock;
  UniqueFd host_listener;
};

Device& device() {
  static Device* d = [] {
    auto* dev = new Device;
    char tmpl[] = "/tmp/ember-fuzz-vsock-XXXXXX";
    EMBER_FUZZ_ASSERT(::mkdtemp(tmpl) != nullptr);
    dev->dir = tmpl;
    const std::string uds = dev->dir + "/v.sock";
    auto listener = listen_unix(uds + "_" + std::to_string(kHostPort), 1024, SOCK_NONBLOCK);
    EMBER_FUZZ_ASSERT(listener.ok());
    dev->host_listener = std::move(listener).value();
    auto vsock = Vsock::create({kGuestCid, uds}, dev->loop);
    EMBER_FUZZ_ASSERT(vsock.ok());
    dev->vsock = std::move(vsock).value();
    dev->vsock->attach(dev->transport);
    return dev;
  }();
  return *d;
}

// Accepts what the guest connected, sends each a few bytes, and returns their sockets.
std::vector<UniqueFd> answer_host_side(Device& d) {
  std::vector<UniqueFd> accepted;
  for (;;) {
    UniqueFd fd(::accept4(d.host_listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) break;
    constexpr char kHello[] = "hello from the host\n";
    (void)!::send(fd.get(), kHello, sizeof kHello - 1, MSG_NOSIGNAL);
    accepted.push_back(std::move(fd));
  }
  return accepted;
}

VsockHeader packet(uint16_t op, uint32_t len = 0, uint32_t flags = 0, uint32_t dst = kHostPort) {
  return VsockHeader{kGuestCid, vmm::virtio::kVsockHostCid, 5000, dst, len,
                     vmm::virtio::kVsockTypeStream, op, flags, 256 * 1024, 0};
}

void write_seeds(const std::string& dir) {
  using namespace vmm::virtio;
  auto seed = [&](const std::string& name, const std::vector<std::pair<VsockHeader, std::string>>& tx,
                  unsigned rx_buffers) {
    SeedImage s(3);
    for (unsigned i = 0; i < rx_buffers; ++i) {
      s.add_chain(Vsock::kRxQueue, {{s.alloc(300), 300, true}});
    }
    for (const auto& [hdr, payload] : tx) {
      std::vector<SeedImage::Buf> bufs = {{s.alloc(sizeof hdr, &hdr), sizeof hdr, false}};
      if (!payload.empty()) {
        bufs.push_back({s.alloc(static_cast<uint32_t>(payload.size()), payload.data()),
                        static_cast<uint32_t>(payload.size()), false});
      }
      s.add_chain(Vsock::kTxQueue, bufs);
    }
    s.add_chain(Vsock::kEventQueue, {{s.alloc(8), 8, true}});
    write_seed(dir, name, s.bytes());
  };
  seed("request_write_shutdown",
       {{packet(kOpRequest), ""},
        {packet(kOpRw, 5), "hello"},
        {packet(kOpCreditRequest), ""},
        {packet(kOpShutdown, 0, kShutdownSend | kShutdownRcv), ""}},
       8);
  seed("refused_port", {{packet(kOpRequest, 0, 0, 4444), ""}, {packet(kOpRw, 3, 0, 4444), "abc"}},
       2);
  seed("credit_and_reset",
       {{packet(kOpRequest), ""},
        {packet(kOpCreditUpdate), ""},
        {packet(kOpRw, 11), "hello world"},
        {packet(kOpRst), ""}},
       4);
  seed("stream_both_ways", {{packet(kOpRequest), ""}, {packet(kOpRw, 4), "ping"}}, 8);
  seed("half_closed",
       {{packet(kOpRequest), ""}, {packet(kOpShutdown, 0, kShutdownSend), ""}}, 3);
  seed("no_rx_buffers", {{packet(kOpRequest), ""}, {packet(kOpResponse), ""}}, 0);
}

}  // namespace
}  // namespace ember::fuzz

EMBER_FUZZ_SEEDS(ember::fuzz::write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember::fuzz;
  Device& d = device();
  FuzzTransport& t = d.transport;
  {
    std::lock_guard lock(t.mutex());
    d.vsock->reset();
    t.clear();
    if (!load_queues(data, size, d.mem, t.queues(), 3)) return 0;
    d.vsock->process_queue(Vsock::kTxQueue);
  }
  std::vector<ember::UniqueFd> host = answer_host_side(d);
  // Let the device read what the host sent; its socket handlers take the lock themselves.
  for (int i = 0; i < 3; ++i) {
    auto handled = d.loop.run_once(0);
    if (!handled.ok() || *handled == 0) break;
  }
  {
    std::lock_guard lock(t.mutex());
    d.vsock->process_queue(Vsock::kRxQueue);
  }
  d.vsock->reset_all_connections();
  EMBER_FUZZ_ASSERT(d.vsock->connection_count() == 0);
  std::lock_guard lock(t.mutex());
  d.vsock->process_queue(Vsock::kEventQueue);
  d.vsock->process_queue(Vsock::kRxQueue);
  return 0;
}
