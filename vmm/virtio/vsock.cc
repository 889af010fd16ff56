// Vsock guest side: the tx, rx and event queues and the per-packet state machine.
#include "vmm/virtio/vsock.h"

#include <sys/socket.h>

#include <cstring>

#include "vmm/virtio/virtio_spec.h"

namespace ember::vmm::virtio {

namespace {

// Header-only packets owed to the guest beyond which tx waits for rx buffers, so a
// guest that sends garbage without reading the answers cannot grow host memory.
constexpr size_t kMaxControlBacklog = 1024;
constexpr uint32_t kEventTransportReset = 0;

std::span<const uint8_t> bytes_of(const VsockHeader& hdr) {
  return {reinterpret_cast<const uint8_t*>(&hdr), sizeof(hdr)};
}

}  // namespace

uint32_t Vsock::device_id() const { return kDeviceIdVsock; }

uint64_t Vsock::features() const {
  return feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingIndirectDesc);
}

void Vsock::read_config(uint64_t offset, std::span<uint8_t> data) const {
  uint8_t config[8];
  std::memcpy(config, &guest_cid_, sizeof(config));  // struct virtio_vsock_config, le64
  read_config_bytes(config, offset, data);
}

Status Vsock::restore(const State& state) {
  if (state.guest_cid <= kVsockHostCid) return make_error("restore vsock", "bad guest CID");
  // The restored guest already believes in this CID.
  guest_cid_ = state.guest_cid;
  return {};
}

size_t Vsock::connection_count() const {
  std::lock_guard lock(transport_->mutex());
  return conns_.size();
}

void Vsock::reset_all_connections() {
  std::lock_guard lock(transport_->mutex());
  close_all();
  reset_event_pending_ = true;
  process_event_queue();
}

void Vsock::activate(uint64_t /*acked*/) {
  // Work queued before the driver was ready (host CONNECTs, a reset event) goes now.
  process_tx();
  process_event_queue();
}

void Vsock::process_queue(uint16_t index) {
  if (index == kRxQueue) fill_rx();
  if (index == kTxQueue) process_tx();
  if (index == kEventQueue) on_event_queue_notify();
}

void Vsock::on_event_queue_notify() {
  process_event_queue();
  // The driver re-posts the event buffer only after handling the event.
  if (!awaiting_reset_done_ || reset_event_pending_) return;
  awaiting_reset_done_ = false;
  for (Key key : held_requests_) {
    auto it = conns_.find(key);
    if (it != conns_.end()) send_control(*it->second, kOpRequest);
  }
  held_requests_.clear();
  fill_rx();
}

void Vsock::reset() {
  close_all();
  reset_event_pending_ = false;
  awaiting_reset_done_ = false;
}

void Vsock::send_control(VsockConnection& conn, uint16_t op, uint32_t flags) {
  rx_control_.push_back(conn.header(guest_cid_, op, flags));
}

void Vsock::reset_connection(Key key) {
  auto it = conns_.find(key);
  if (it == conns_.end()) return;
  send_control(*it->second, kOpRst);
  drop_connection(key);
}

void Vsock::rst_reply(const VsockHeader& from_guest) {
  if (from_guest.op == kOpRst) return;  // never answer a reset with a reset
  rx_control_.push_back(VsockHeader{kVsockHostCid, guest_cid_, from_guest.dst_port,
                                    from_guest.src_port, 0, kVsockTypeStream, kOpRst, 0, 0, 0});
}

void Vsock::process_tx() {
  if (!transport_->active() || !transport_->queue(kTxQueue).config().ready) return;
  Queue& txq = transport_->queue(kTxQueue);
  const GuestMemory& mem = transport_->memory();
  bool any = false;
  for (;;) {
    if (rx_control_.size() >= kMaxControlBacklog) {
      tx_stalled_ = true;
      break;
    }
    auto chain = txq.pop(mem);
    if (!chain.ok()) return transport_->fail(chain.error());
    if (!chain->has_value()) break;
    ChainCursor in(mem, (*chain)->readable);
    VsockHeader hdr{};
    // A chain too short for a header carries nothing to answer: drop it.
    if (in.read({reinterpret_cast<uint8_t*>(&hdr), sizeof(hdr)}).ok()) handle_tx_packet(hdr, in);
    if (Status s = txq.add_used(mem, (*chain)->head, 0); !s.ok())
      return transport_->fail(s.error());
    any = true;
  }
  if (any) transport_->signal_used(kTxQueue);
  fill_rx();
}

void Vsock::handle_tx_packet(const VsockHeader& hdr, ChainCursor& payload) {
  // Misaddressed (spoofed source, or not for the host): nothing sensible to answer.
  if (hdr.src_cid != guest_cid_ || hdr.dst_cid != kVsockHostCid) return;
  if (hdr.len > payload.remaining() || hdr.len > kVsockMaxPayload) return rst_reply(hdr);
  if (hdr.type != kVsockTypeStream) return rst_reply(hdr);
  if (hdr.op == kOpRequest) return connect_to_host(hdr);
  auto it = conns_.find(key_of(hdr.dst_port, hdr.src_port));
  if (it == conns_.end()) return rst_reply(hdr);
  handle_connection_packet(*it->second, hdr, payload);
}

void Vsock::handle_connection_packet(VsockConnection& conn, const VsockHeader& hdr,
                                     ChainCursor& payload) {
  const Key key = key_of(conn.local_port, conn.peer_port);
  conn.peer_buf_alloc = hdr.buf_alloc;
  conn.peer_fwd_cnt = hdr.fwd_cnt;
  const bool established = conn.state == VsockConnection::State::kEstablished;
  switch (hdr.op) {
    case kOpResponse: {
      if (established) return reset_connection(key);
      conn.state = VsockConnection::State::kEstablished;
      const std::string ok = "OK " + std::to_string(conn.local_port) + "\n";
      const ssize_t n = ::send(conn.sock.get(), ok.data(), ok.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n != static_cast<ssize_t>(ok.size())) return reset_connection(key);
      break;
    }
    case kOpRst:
      return drop_connection(key);
    case kOpShutdown:
      conn.peer_shut_send |= (hdr.flags & kShutdownSend) != 0;
      conn.peer_shut_rcv |= (hdr.flags & kShutdownRcv) != 0;
      if (conn.peer_shut_send && conn.peer_shut_rcv) {
        // The guest is closing and waits for our RST; first deliver what it sent.
        if (!conn.has_pending_tx()) return reset_connection(key);
        conn.close_after_flush = true;
      } else if (conn.peer_shut_send && !conn.has_pending_tx()) {
        ::shutdown(conn.sock.get(), SHUT_WR);
      }
      break;
    case kOpRw: {
      if (!established || conn.peer_shut_send) return reset_connection(key);
      std::span<uint8_t> data(scratch_.data(), hdr.len);
      if (!payload.read(data).ok() || !conn.write_to_host(data)) return reset_connection(key);
      if (conn.needs_credit_update()) send_control(conn, kOpCreditUpdate);
      break;
    }
    case kOpCreditUpdate:
      break;  // the credit fields were taken above
    case kOpCreditRequest:
      send_control(conn, kOpCreditUpdate);
      break;
    default:
      return reset_connection(key);
  }
  update_interest(conn);
}

void Vsock::after_flush(Key key) {
  VsockConnection& conn = *conns_.at(key);
  if (!conn.has_pending_tx()) {
    if (conn.close_after_flush) return reset_connection(key);
    if (conn.peer_shut_send) ::shutdown(conn.sock.get(), SHUT_WR);
  }
  if (conn.needs_credit_update()) send_control(conn, kOpCreditUpdate);
  update_interest(conn);
}

void Vsock::fill_rx() {
  if (!transport_->active() || !transport_->queue(kRxQueue).config().ready) return;
  Queue& rxq = transport_->queue(kRxQueue);
  const GuestMemory& mem = transport_->memory();
  bool any = false;
  while (!rx_control_.empty() || !rx_ready_.empty()) {
    auto chain = rxq.pop(mem);
    if (!chain.ok()) return transport_->fail(chain.error());
    if (!chain->has_value()) break;
    const DescriptorChain& c = **chain;
    if (c.writable_len < sizeof(VsockHeader)) {
      return transport_->fail(make_error("vsock rx", "buffer smaller than a packet header"));
    }
    uint32_t used = 0;
    bool filled = false;
    if (!rx_control_.empty()) {
      ChainCursor out(mem, c.writable);
      filled = out.write(bytes_of(rx_control_.front())).ok();
      rx_control_.pop_front();
      used = sizeof(VsockHeader);
    } else {
      // Each ready connection gets one try; those with nothing to say leave the list.
      for (size_t tries = rx_ready_.size(); tries > 0 && !filled; --tries) {
        const Key key = rx_ready_.front();
        rx_ready_.pop_front();
        filled = fill_from_connection(key, c, &used);
      }
    }
    if (!filled) {
      rxq.undo_pop();
      if (rx_control_.empty()) break;  // else a connection just queued a SHUTDOWN or RST
      continue;
    }
    if (Status s = rxq.add_used(mem, c.head, used); !s.ok()) return transport_->fail(s.error());
    any = true;
  }
  if (any) transport_->signal_used(kRxQueue);
  if (tx_stalled_ && rx_control_.size() < kMaxControlBacklog / 2) {
    tx_stalled_ = false;
    process_tx();
  }
}

bool Vsock::fill_from_connection(Key key, const DescriptorChain& chain, uint32_t* used_len) {
  auto it = conns_.find(key);
  if (it == conns_.end()) return false;
  VsockConnection& conn = *it->second;
  conn.in_ready = false;
  const uint64_t room = chain.writable_len - sizeof(VsockHeader);
  const uint32_t space =
      static_cast<uint32_t>(std::min<uint64_t>({room, conn.peer_credit(), kVsockMaxPayload}));
  if (conn.state != VsockConnection::State::kEstablished || conn.host_eof || conn.peer_shut_rcv ||
      space == 0) {
    update_interest(conn);  // re-armed once credit or state allows
    return false;
  }
  size_t got = 0;
  switch (conn.read_from_host({scratch_.data(), space}, &got)) {
    case IoResult::kOk: {
      VsockHeader hdr = conn.header(guest_cid_, kOpRw);
      hdr.len = static_cast<uint32_t>(got);
      ChainCursor out(transport_->memory(), chain.writable);
      if (!out.write(bytes_of(hdr)).ok() || !out.write({scratch_.data(), got}).ok()) return false;
      conn.rx_cnt += static_cast<uint32_t>(got);
      conn.in_ready = true;  // there may be more; back of the line for fairness
      rx_ready_.push_back(key);
      *used_len = static_cast<uint32_t>(sizeof(VsockHeader) + got);
      return true;
    }
    case IoResult::kWouldBlock:
      update_interest(conn);
      return false;
    case IoResult::kEof:
      conn.host_eof = true;
      // An unregistered socket saw HUP: the host will not read either.
      send_control(conn, kOpShutdown, kShutdownSend | (conn.registered ? 0 : kShutdownRcv));
      update_interest(conn);
      return false;
    case IoResult::kError:
      reset_connection(key);
      return false;
  }
  return false;
}

void Vsock::process_event_queue() {
  if (!reset_event_pending_ || !transport_->active()) return;
  Queue& evq = transport_->queue(kEventQueue);
  if (!evq.config().ready) return;
  const GuestMemory& mem = transport_->memory();
  auto chain = evq.pop(mem);
  if (!chain.ok()) return transport_->fail(chain.error());
  if (!chain->has_value()) return;  // stays pending until the driver adds a buffer
  ChainCursor out(mem, (*chain)->writable);
  const uint32_t id = kEventTransportReset;
  if (!out.write({reinterpret_cast<const uint8_t*>(&id), sizeof(id)}).ok()) {
    return transport_->fail(make_error("vsock event", "buffer smaller than an event"));
  }
  if (Status s = evq.add_used(mem, (*chain)->head, sizeof(id)); !s.ok()) {
    return transport_->fail(s.error());
  }
  reset_event_pending_ = false;
  awaiting_reset_done_ = true;
  transport_->signal_used(kEventQueue);
}

}  // namespace ember::vmm::virtio
