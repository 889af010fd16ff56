// VsockConnection: one vsock stream bridged to a host Unix socket, with its credit state.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/unique_fd.h"

namespace ember::vmm::virtio {

inline constexpr uint64_t kVsockHostCid = 2;
inline constexpr uint16_t kVsockTypeStream = 1;

// Operations and flags from the virtio-vsock section (5.10.6).
enum VsockOp : uint16_t {
  kOpInvalid = 0,
  kOpRequest = 1,
  kOpResponse = 2,
  kOpRst = 3,
  kOpShutdown = 4,
  kOpRw = 5,
  kOpCreditUpdate = 6,
  kOpCreditRequest = 7,
};
inline constexpr uint32_t kShutdownRcv = 1;   // the sender will receive no more
inline constexpr uint32_t kShutdownSend = 2;  // the sender will send no more

#pragma pack(push, 1)
struct VsockHeader {
  uint64_t src_cid;
  uint64_t dst_cid;
  uint32_t src_port;
  uint32_t dst_port;
  uint32_t len;
  uint16_t type;
  uint16_t op;
  uint32_t flags;
  uint32_t buf_alloc;
  uint32_t fwd_cnt;
};
#pragma pack(pop)
static_assert(sizeof(VsockHeader) == 44);

// Largest payload of one packet either way (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE).
inline constexpr uint32_t kVsockMaxPayload = 64 * 1024;
// What the host side of each connection buffers for the guest: its buf_alloc.
inline constexpr uint32_t kVsockBufAlloc = 256 * 1024;
// Forwarded bytes after which the guest is told about freed space unprompted; below
// kVsockBufAlloc so a guest that used all its credit always hears back.
inline constexpr uint32_t kVsockCreditUpdateThreshold = kVsockBufAlloc / 4;

enum class IoResult { kOk, kWouldBlock, kEof, kError };

// Bytes counted here are stream bytes only; all counters wrap as the spec's u32s do.
struct VsockConnection {
  enum class State { kConnecting, kEstablished };

  VsockConnection(UniqueFd socket, uint32_t local, uint32_t peer, State initial)
      : sock(std::move(socket)), local_port(local), peer_port(peer), state(initial) {}

  // A header from the host side of this connection, carrying current credit.
  VsockHeader header(uint64_t guest_cid, uint16_t op, uint32_t flags = 0);
  // Bytes the guest can still take: peer_buf_alloc - (rx_cnt - peer_fwd_cnt).
  uint32_t peer_credit() const;
  bool needs_credit_update() const {
    return fwd_cnt - last_reported_fwd_cnt >= kVsockCreditUpdateThreshold;
  }

  // Guest to host. Sends what the socket takes and buffers the rest; false when the
  // socket failed or the guest overran the buffer it was granted (both mean reset).
  bool write_to_host(std::span<const uint8_t> data);
  // Sends buffered bytes after EPOLLOUT; false on socket failure.
  bool flush_to_host();
  bool has_pending_tx() const { return tx_head < tx_buf.size(); }

  // Host to guest: one non-blocking read into `out`.
  IoResult read_from_host(std::span<uint8_t> out, size_t* got);

  // The epoll interest this connection needs now.
  uint32_t wanted_events() const;

  UniqueFd sock;
  uint32_t local_port;  // host side
  uint32_t peer_port;   // guest side
  State state;

  bool registered = false;      // watched by the event loop
  bool in_ready = false;        // queued for reading into the rx queue
  bool host_eof = false;        // the host socket returned end of file
  bool peer_shut_send = false;  // the guest will send no more
  bool peer_shut_rcv = false;   // the guest takes no more
  bool close_after_flush = false;

  uint32_t fwd_cnt = 0;  // guest bytes delivered to the host socket
  uint32_t last_reported_fwd_cnt = 0;
  uint32_t rx_cnt = 0;  // host bytes put in the guest's rx queue
  uint32_t peer_buf_alloc = 0;
  uint32_t peer_fwd_cnt = 0;

  std::vector<uint8_t> tx_buf;  // guest bytes the host socket has not taken yet
  size_t tx_head = 0;
};

}  // namespace ember::vmm::virtio
