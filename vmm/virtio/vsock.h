// Vsock: a virtio-vsock device whose host side is Unix sockets (Firecracker's model).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/event_loop.h"
#include "vmm/virtio/virtio_device.h"
#include "vmm/virtio/vsock_connection.h"

namespace ember::vmm::virtio {

struct VsockConfig {
  uint64_t guest_cid = 3;
  std::string uds_path;  // host processes connect here; guest connections go to uds_path_P
};

// Host-initiated: a process connects to uds_path and writes "CONNECT <port>\n"; the
// guest gets OP_REQUEST and, once it answers OP_RESPONSE, the process reads
// "OK <local port>\n" and the socket carries the stream. Guest-initiated: OP_REQUEST to
// host port P connects to "<uds_path>_P"; failure answers OP_RST.
//
// All state is guarded by the transport mutex; socket handlers run on the event loop.
class Vsock final : public VirtioDevice {
 public:
  static constexpr uint16_t kRxQueue = 0;
  static constexpr uint16_t kTxQueue = 1;
  static constexpr uint16_t kEventQueue = 2;

  struct State {
    uint64_t guest_cid = 0;
  };

  // Binds and listens on config.uds_path (replacing a stale socket file there).
  static Result<std::unique_ptr<Vsock>> create(const VsockConfig& config, EventLoop& loop);
  ~Vsock() override;

  // Drops every connection and tells the guest with VIRTIO_VSOCK_EVENT_TRANSPORT_RESET
  // (delivered once the event queue has a buffer). Call after a snapshot restore, from
  // the loop thread or while the loop is stopped; takes the transport mutex.
  // New host connections are held back until the guest has handled the event (it hands
  // the event buffer back with a notify): a request that overtook the reset would reach
  // a socket table still holding the snapshot's connections, where Linux drops it when
  // the ports match an old stream, or resets the new stream with the old ones.
  void reset_all_connections();
  size_t connection_count() const;

  State save() const { return {guest_cid_}; }
  Status restore(const State& state);

  // VirtioDevice
  uint32_t device_id() const override;
  uint64_t features() const override;
  uint16_t num_queues() const override { return 3; }
  void attach(VirtioTransport& transport) override { transport_ = &transport; }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override;
  void activate(uint64_t acked) override;
  void process_queue(uint16_t index) override;
  void reset() override;

 private:
  using Key = uint64_t;  // local_port << 32 | peer_port
  static Key key_of(uint32_t local_port, uint32_t peer_port) {
    return (uint64_t{local_port} << 32) | peer_port;
  }

  Vsock(const VsockConfig& config, EventLoop& loop, UniqueFd listener);

  // Host side (vsock_host.cc).
  void on_listener();
  void on_pending_host(int fd);
  void on_connection(Key key, uint32_t events);
  void connect_to_host(const VsockHeader& request);
  void register_connection(VsockConnection& conn, Key key);
  void update_interest(VsockConnection& conn);
  void drop_connection(Key key);
  void close_all();

  // Guest side (vsock.cc).
  void process_tx();
  void handle_tx_packet(const VsockHeader& hdr, ChainCursor& payload);
  void handle_connection_packet(VsockConnection& conn, const VsockHeader& hdr,
                                ChainCursor& payload);
  void fill_rx();
  // Fills one rx chain from connection `key`; false when that source had nothing.
  bool fill_from_connection(Key key, const DescriptorChain& chain, uint32_t* used_len);
  void process_event_queue();
  // The guest notified the event queue: once it has handled the reset, send held requests.
  void on_event_queue_notify();
  void send_control(VsockConnection& conn, uint16_t op, uint32_t flags = 0);
  void reset_connection(Key key);  // RST to the guest and drop
  void rst_reply(const VsockHeader& from_guest);
  void after_flush(Key key);

  uint64_t guest_cid_;
  std::string uds_path_;
  EventLoop& loop_;
  UniqueFd listener_;
  VirtioTransport* transport_ = nullptr;

  std::unordered_map<int, UniqueFd> pending_host_;  // accepted, CONNECT line not read yet
  std::map<Key, std::unique_ptr<VsockConnection>> conns_;
  std::deque<VsockHeader> rx_control_;  // header-only packets waiting for rx buffers
  std::deque<Key> rx_ready_;            // connections with host bytes to read
  bool tx_stalled_ = false;             // tx left waiting until rx_control_ drains
  bool reset_event_pending_ = false;
  bool awaiting_reset_done_ = false;  // reset event delivered, guest not done with it yet
  std::vector<Key> held_requests_;    // host CONNECTs waiting for awaiting_reset_done_
  uint32_t next_local_port_ = 1u << 30;
  std::vector<uint8_t> scratch_;
};

}  // namespace ember::vmm::virtio
