// Net: a virtio-net device whose backend is a tap file descriptor handed in by the caller.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/event_loop.h"
#include "vmm/virtio/virtio_device.h"

namespace ember::vmm::virtio {

using MacAddress = std::array<uint8_t, 6>;

struct NetConfig {
  MacAddress mac = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02};
  std::string label;  // how errors name the backend, e.g. "--net-fd 5"; empty: "fd N"
};

// One RX and one TX queue, served on the event loop. Frames carry the 12-byte
// virtio_net_hdr_v1 on both sides, so TX chains are written to the backend as they are
// (header included, checksum and TSO requests handled by the host kernel) and RX frames
// are read straight into guest buffers, several of them per frame with MRG_RXBUF.
//
// The backend is a tap opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR (the device sets its
// vnet header size to 12 and its offloads to what the driver acked) or, for tests, a
// SOCK_SEQPACKET/SOCK_DGRAM socket carrying one frame, header included, per message.
// The fd is put in non-blocking mode. While the guest has no RX buffers posted the fd is
// not polled for input; the guest's next RX kick re-arms it.
//
// All state is guarded by the transport mutex. Queue and fd work, and every change to what
// the loop watches, happen on the event loop: activate() and reset(), which a vCPU thread
// calls, only record the new state and wake the loop.
class Net final : public VirtioDevice {
 public:
  static constexpr uint16_t kRxQueue = 0;
  static constexpr uint16_t kTxQueue = 1;
  static constexpr uint32_t kHeaderSize = 12;  // sizeof(struct virtio_net_hdr_v1)
  // Largest frame either way: a 64 KiB TSO frame, its Ethernet and VLAN headers, the header.
  static constexpr uint32_t kMaxFrame = kHeaderSize + 65535 + 14 + 4;
  // Largest frame without guest TSO: GOOD_PACKET_LEN (1500 + Ethernet + VLAN) + header.
  static constexpr uint32_t kMaxMtuFrame = kHeaderSize + 1518;

  struct State {
    MacAddress mac{};
    uint64_t acked_features = 0;
  };

  // Frame counts since creation (not part of State).
  struct Counters {
    uint64_t rx_frames = 0;
    uint64_t rx_bytes = 0;    // headers included
    uint64_t rx_dropped = 0;  // larger than the posted buffers, or shorter than a header
    uint64_t tx_frames = 0;
    uint64_t tx_bytes = 0;    // headers included
    uint64_t tx_dropped = 0;  // malformed size, or refused by the backend
  };

  // Takes ownership of `fd`, checks that it is a usable tap (or frame socket), sets the
  // tap's vnet header size and watches it on `loop`, which must outlive the device.
  static Result<std::unique_ptr<Net>> create(UniqueFd fd, const NetConfig& config, EventLoop& loop);
  ~Net() override;
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;

  bool is_tap() const { return is_tap_; }
  const std::string& tap_name() const { return tap_name_; }
  const MacAddress& mac() const { return mac_; }
  // Takes the transport mutex.
  Counters counters() const;

  State save() const { return {mac_, acked_}; }
  // The MAC the guest already uses comes back; refuses features this device cannot offer.
  Status restore(const State& state);

  // VirtioDevice
  uint32_t device_id() const override;
  uint64_t features() const override;
  uint16_t num_queues() const override { return 2; }
  void attach(VirtioTransport& transport) override { transport_ = &transport; }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override;
  void activate(uint64_t acked) override;
  void process_queue(uint16_t index) override;
  void reset() override;

 private:
  Net(UniqueFd fd, bool is_tap, std::string tap_name, const NetConfig& config, EventLoop& loop);

  void on_fd_event(uint32_t events);
  // activate() or reset() happened: serve both queues and set the fd's interest.
  void on_wake();
  void wake();
  // Both run the queue as far as they can, then call update_interest().
  void process_tx();
  void fill_rx();
  // Bodies of the above; return early when the transport failed.
  void run_tx();
  void run_rx();
  // Pops RX chains into held_ until they cover what one frame may need; false when the
  // guest has not posted enough and delivery must wait for its next kick.
  bool gather_rx_chains();
  // Publishes a received frame of `len` bytes spread over the first chains of held_.
  Status deliver_rx(uint64_t len);
  void update_interest();
  void link_lost(const std::string& why);
  bool rx_live() const;

  UniqueFd fd_;
  UniqueFd wake_;  // eventfd watched by loop_
  bool is_tap_ = false;
  std::string tap_name_;
  MacAddress mac_;
  EventLoop& loop_;
  VirtioTransport* transport_ = nullptr;

  bool registered_ = false;  // fd_ watched by loop_
  bool wake_registered_ = false;
  uint32_t interest_ = 0;   // its current epoll events
  bool activated_ = false;  // between activate() and reset()
  uint64_t acked_ = 0;
  bool mergeable_ = false;             // MRG_RXBUF acked: a frame may span several RX chains
  uint64_t rx_needed_ = kMaxMtuFrame;  // bytes of RX buffers one frame may need
  bool rx_waiting_ = false;            // not enough RX buffers: fd input ignored until a kick
  bool tx_pending_ = false;            // TX stopped early (backend full, or batch done): EPOLLOUT
  bool link_up_ = true;
  bool tx_error_logged_ = false;
  std::vector<DescriptorChain> held_;   // popped RX chains; never kept past one fill_rx()
  std::array<uint8_t, 64> overflow_{};  // catches the bytes that tell a frame did not fit
  Counters counters_;
};

}  // namespace ember::vmm::virtio
