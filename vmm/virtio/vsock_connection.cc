// VsockConnection: host socket I/O and credit arithmetic for one vsock stream.
#include "vmm/virtio/vsock_connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

namespace ember::vmm::virtio {

namespace {

// Sends as much as the socket takes now: bytes sent, or -1 on a real failure.
ssize_t send_some(int fd, std::span<const uint8_t> data) {
  for (;;) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  }
}

}  // namespace

VsockHeader VsockConnection::header(uint64_t guest_cid, uint16_t op, uint32_t flags) {
  last_reported_fwd_cnt = fwd_cnt;
  return VsockHeader{kVsockHostCid,    guest_cid, local_port, peer_port,      0,
                     kVsockTypeStream, op,        flags,      kVsockBufAlloc, fwd_cnt};
}

uint32_t VsockConnection::peer_credit() const {
  const uint32_t in_flight = rx_cnt - peer_fwd_cnt;
  return in_flight >= peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
}

bool VsockConnection::write_to_host(std::span<const uint8_t> data) {
  if (data.empty()) return true;
  size_t sent = 0;
  if (!has_pending_tx()) {
    const ssize_t n = send_some(sock.get(), data);
    if (n < 0) return false;
    sent = static_cast<size_t>(n);
    fwd_cnt += static_cast<uint32_t>(sent);
  }
  const size_t rest = data.size() - sent;
  if (rest == 0) return true;
  // The guest may only have kVsockBufAlloc bytes outstanding (5.10.6.3).
  if (tx_buf.size() - tx_head + rest > kVsockBufAlloc) return false;
  if (tx_head > 0 && tx_head == tx_buf.size()) {
    tx_buf.clear();
    tx_head = 0;
  }
  tx_buf.insert(tx_buf.end(), data.begin() + static_cast<ptrdiff_t>(sent), data.end());
  return true;
}

bool VsockConnection::flush_to_host() {
  while (has_pending_tx()) {
    const ssize_t n = send_some(sock.get(), std::span<const uint8_t>(tx_buf).subspan(tx_head));
    if (n < 0) return false;
    if (n == 0) return true;  // still full; EPOLLOUT stays armed
    tx_head += static_cast<size_t>(n);
    fwd_cnt += static_cast<uint32_t>(n);
  }
  tx_buf.clear();
  tx_head = 0;
  return true;
}

IoResult VsockConnection::read_from_host(std::span<uint8_t> out, size_t* got) {
  *got = 0;
  for (;;) {
    const ssize_t n = ::recv(sock.get(), out.data(), out.size(), MSG_DONTWAIT);
    if (n > 0) {
      *got = static_cast<size_t>(n);
      return IoResult::kOk;
    }
    if (n == 0) return IoResult::kEof;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? IoResult::kWouldBlock : IoResult::kError;
  }
}

uint32_t VsockConnection::wanted_events() const {
  uint32_t events = 0;
  if (state == State::kEstablished && !in_ready && !host_eof && !peer_shut_rcv &&
      peer_credit() > 0) {
    events |= EPOLLIN;
  }
  if (has_pending_tx()) events |= EPOLLOUT;
  return events;
}

}  // namespace ember::vmm::virtio
