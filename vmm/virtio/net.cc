// Net: virtio-net RX/TX queues over a tap (or frame socket), with mergeable RX buffers.
#include "vmm/virtio/net.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "vmm/logger.h"
#include "vmm/virtio/virtio_spec.h"

namespace ember::vmm::virtio {

namespace {

// Frames moved per event-loop turn before yielding to the other devices.
constexpr uint32_t kTxBatch = 256;
constexpr uint32_t kRxBatch = 64;
// readv/recvmsg take at most UIO_MAXIOV (1024) iovecs; one is kept for the overflow bytes.
constexpr size_t kMaxRxIovecs = 1023;

constexpr uint64_t kOffered = feature_bit(kFeatureVersion1) |
                              feature_bit(kFeatureRingIndirectDesc) |
                              feature_bit(net::kFeatureCsum) | feature_bit(net::kFeatureGuestCsum) |
                              feature_bit(net::kFeatureMac) | feature_bit(net::kFeatureGuestTso4) |
                              feature_bit(net::kFeatureHostTso4) |
                              feature_bit(net::kFeatureMrgRxbuf) | feature_bit(net::kFeatureStatus);

Error net_error(const std::string& context) { return make_error("virtio-net", context); }

bool is_again(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// Queue::add_used makes each element visible as it goes; a driver polling the used ring
// would then see the head of a mergeable frame before its other buffers (Linux drops such
// a frame). So every element but the last is written ahead of the index, and add_used of
// the last one publishes them all together.
Status add_used_together(Queue& q, const GuestMemory& mem, std::span<const VirtqUsedElem> used) {
  Queue::State& s = q.config();
  for (size_t i = 0; i + 1 < used.size(); ++i) {
    if (used[i].id >= s.size) return net_error("used head out of range");
    const uint64_t slot = s.device_addr + 4 + 8 * ((s.next_used + i) % s.size);  // 2.7.8
    EMBER_CHECK(mem.write_obj(slot, used[i]));
  }
  s.next_used = static_cast<uint16_t>(s.next_used + used.size() - 1);
  return q.add_used(mem, used.back().id, used.back().len);
}

}  // namespace

Result<std::unique_ptr<Net>> Net::create(UniqueFd fd, const NetConfig& config, EventLoop& loop) {
  if (!fd) return net_error("no backend file descriptor");
  if ((config.mac[0] & 1) != 0) return net_error("the MAC address must be unicast");
  const std::string which = config.label.empty() ? "fd " + std::to_string(fd.get()) : config.label;
  bool is_tap = false;
  std::string name;
  ifreq ifr{};
  if (::ioctl(fd.get(), TUNGETIFF, &ifr) == 0) {
    constexpr int kWanted = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    name.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
    if ((ifr.ifr_flags & kWanted) != kWanted) {
      return net_error("tap " + name + " (" + which +
                       ") must be opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR");
    }
    int hdr_size = kHeaderSize;
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &hdr_size) != 0) {
      return errno_error("set the vnet header size of tap " + name, which);
    }
    is_tap = true;
  } else if (errno == EBADFD) {
    return net_error(which + " is a /dev/net/tun file not attached to an interface (TUNSETIFF)");
  } else if (errno == ENOTTY || errno == EINVAL) {
    int type = 0;
    socklen_t len = sizeof(type);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
        (type != SOCK_SEQPACKET && type != SOCK_DGRAM)) {
      return net_error(which +
                       " is not a tap: pass a tap opened with "
                       "IFF_TAP|IFF_NO_PI|IFF_VNET_HDR");
    }
  } else {
    return errno_error("query tap (TUNGETIFF)", which);
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return errno_error("make the network backend non-blocking", which);
  }
  std::unique_ptr<Net> net(new Net(std::move(fd), is_tap, std::move(name), config, loop));
  Net* self = net.get();
  self->wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!self->wake_) return errno_error("eventfd", "virtio-net wakeup");
  EMBER_CHECK(loop.add(self->wake_.get(), EPOLLIN, [self](uint32_t) { self->on_wake(); }));
  self->wake_registered_ = true;
  // No events yet: input is wanted once the driver is ready and has posted buffers.
  EMBER_CHECK(loop.add(self->fd_.get(), 0, [self](uint32_t ev) { self->on_fd_event(ev); }));
  self->registered_ = true;
  return net;
}

Net::Net(UniqueFd fd, bool is_tap, std::string tap_name, const NetConfig& config, EventLoop& loop)
    : fd_(std::move(fd)),
      is_tap_(is_tap),
      tap_name_(std::move(tap_name)),
      mac_(config.mac),
      loop_(loop) {}

Net::~Net() {
  if (registered_) loop_.remove(fd_.get());
  if (wake_registered_) loop_.remove(wake_.get());
}

Net::Counters Net::counters() const {
  std::lock_guard lock(transport_->mutex());
  return counters_;
}

Status Net::restore(const State& state) {
  if ((state.acked_features & ~kOffered) != 0) {
    return make_error("restore virtio-net", "the snapshot acked features this device lacks");
  }
  if ((state.mac[0] & 1) != 0) return make_error("restore virtio-net", "multicast MAC");
  // The restored guest already uses this MAC.
  mac_ = state.mac;
  acked_ = state.acked_features;
  return {};
}

uint32_t Net::device_id() const { return kDeviceIdNet; }

uint64_t Net::features() const { return kOffered; }

void Net::read_config(uint64_t offset, std::span<uint8_t> data) const {
  // struct virtio_net_config: mac, le16 status, le16 max_virtqueue_pairs.
  uint8_t config[10] = {};
  std::memcpy(config, mac_.data(), mac_.size());
  const uint16_t status = link_up_ ? net::kStatusLinkUp : 0;
  const uint16_t pairs = 1;
  std::memcpy(&config[6], &status, 2);
  std::memcpy(&config[8], &pairs, 2);
  read_config_bytes(config, offset, data);
}

void Net::activate(uint64_t acked) {
  acked_ = acked;
  activated_ = true;
  mergeable_ = (acked & feature_bit(net::kFeatureMrgRxbuf)) != 0;
  const bool guest_csum = (acked & feature_bit(net::kFeatureGuestCsum)) != 0;
  const bool guest_tso4 = guest_csum && (acked & feature_bit(net::kFeatureGuestTso4)) != 0;
  rx_needed_ = guest_tso4 ? kMaxFrame : kMaxMtuFrame;
  rx_waiting_ = false;
  tx_pending_ = false;
  if (is_tap_) {
    // What the tap may hand us: partial checksums and TSO frames only if the guest takes them.
    const unsigned offloads = (guest_csum ? TUN_F_CSUM : 0u) | (guest_tso4 ? TUN_F_TSO4 : 0u);
    if (::ioctl(fd_.get(), TUNSETOFFLOAD, offloads) != 0) {
      // Without them the host kernel checksums and segments frames for us: slower, correct.
      log_warn("virtio-net: setting the offloads of tap " + tap_name_ +
               " failed: " + std::strerror(errno));
    }
  }
  // Work that waited for the driver (and, after a restore, input queued meanwhile) goes
  // as soon as the loop runs.
  wake();
}

void Net::reset() {
  activated_ = false;
  acked_ = 0;
  mergeable_ = false;
  rx_waiting_ = false;
  tx_pending_ = false;
  held_.clear();
  wake();  // the loop stops watching the fd
}

void Net::wake() {
  const uint64_t one = 1;
  // Fails only when the counter is saturated, i.e. a wakeup is already pending.
  (void)!::write(wake_.get(), &one, sizeof(one));
}

void Net::on_wake() {
  uint64_t count = 0;
  (void)!::read(wake_.get(), &count, sizeof(count));
  if (transport_ == nullptr) return;
  std::lock_guard lock(transport_->mutex());
  process_tx();
  fill_rx();
}

void Net::process_queue(uint16_t index) {
  if (index == kTxQueue) process_tx();
  if (index == kRxQueue) {
    rx_waiting_ = false;  // the driver posted buffers
    fill_rx();
  }
}

void Net::on_fd_event(uint32_t events) {
  if (transport_ == nullptr) return;
  std::lock_guard lock(transport_->mutex());
  if (events & (EPOLLERR | EPOLLHUP)) {
    return link_lost(is_tap_ ? "the tap was detached" : "the peer closed");
  }
  if (events & EPOLLOUT) process_tx();
  if (events & EPOLLIN) fill_rx();
}

void Net::link_lost(const std::string& why) {
  log_warn("virtio-net: " + why + (tap_name_.empty() ? "" : " (tap " + tap_name_ + ")") +
           "; the guest's link is down");
  if (registered_) loop_.remove(fd_.get());
  registered_ = false;
  link_up_ = false;
  if (activated_ && transport_->active()) transport_->signal_config_change();
}

bool Net::rx_live() const {
  return activated_ && link_up_ && transport_->active() &&
         transport_->queue(kRxQueue).config().ready;
}

void Net::update_interest() {
  if (!registered_) return;
  uint32_t want = 0;
  if (rx_live() && !rx_waiting_) want |= EPOLLIN;
  if (tx_pending_ && activated_ && transport_->active()) want |= EPOLLOUT;
  if (want != interest_ && loop_.modify(fd_.get(), want).ok()) interest_ = want;
}

void Net::process_tx() {
  run_tx();
  update_interest();
}

void Net::run_tx() {
  tx_pending_ = false;
  if (!activated_ || !transport_->active() || !transport_->queue(kTxQueue).config().ready) return;
  Queue& txq = transport_->queue(kTxQueue);
  const GuestMemory& mem = transport_->memory();
  bool any = false;
  for (uint32_t sent = 0; sent < kTxBatch; ++sent) {
    auto chain = txq.pop(mem);
    if (!chain.ok()) return transport_->fail(chain.error());
    if (!chain->has_value()) break;
    const DescriptorChain& c = **chain;
    if (!c.writable.empty()) {
      return transport_->fail(net_error("a TX descriptor chain has device-writable buffers"));
    }
    if (c.readable_len < kHeaderSize || c.readable_len > kMaxFrame || !link_up_) {
      ++counters_.tx_dropped;
    } else {
      std::vector<iovec> iov = ChainCursor(mem, c.readable).iovecs(c.readable_len);
      msghdr msg{};
      msg.msg_iov = iov.data();
      msg.msg_iovlen = iov.size();
      ssize_t n;
      do {
        n = is_tap_ ? ::writev(fd_.get(), iov.data(), static_cast<int>(iov.size()))
                    : ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      } while (n < 0 && errno == EINTR);
      if (n < 0 && is_again(errno)) {
        txq.undo_pop();  // resent once the backend has room (EPOLLOUT)
        tx_pending_ = true;
        break;
      }
      if (n < 0) {
        // The host refused the frame (a bad offload header, the tap is down): a lost
        // packet to the guest, as on a real wire.
        if (!tx_error_logged_) {
          log_warn(std::string("virtio-net: the backend refused a TX frame: ") +
                   std::strerror(errno) + " (further refusals are only counted)");
          tx_error_logged_ = true;
        }
        ++counters_.tx_dropped;
      } else {
        ++counters_.tx_frames;
        counters_.tx_bytes += c.readable_len;
      }
    }
    if (Status s = txq.add_used(mem, c.head, 0); !s.ok()) return transport_->fail(s.error());
    any = true;
    // A full batch yields; EPOLLOUT (always ready on a tap) brings us back for the rest.
    if (sent + 1 == kTxBatch) tx_pending_ = true;
  }
  if (any) transport_->signal_used(kTxQueue);
}

void Net::fill_rx() {
  run_rx();
  // Chains popped but not filled go back to the ring: no device state outlives this call,
  // so a snapshot taken between calls has every posted buffer still in the avail ring.
  Queue& rxq = transport_->queue(kRxQueue);
  for (size_t i = 0; i < held_.size(); ++i) rxq.undo_pop();
  held_.clear();
  update_interest();
}

bool Net::gather_rx_chains() {
  Queue& rxq = transport_->queue(kRxQueue);
  const GuestMemory& mem = transport_->memory();
  const size_t max_chains = mergeable_ ? rxq.config().size : 1;
  uint64_t covered = 0;
  size_t iovecs = 0;
  for (const DescriptorChain& c : held_) {
    covered += c.writable_len;
    iovecs += c.writable.size();
  }
  bool capped = false;
  while (held_.size() < max_chains && covered < rx_needed_) {
    auto chain = rxq.pop(mem);
    if (!chain.ok()) {
      transport_->fail(chain.error());
      return false;
    }
    if (!chain->has_value()) break;
    DescriptorChain& c = **chain;
    if (!c.readable.empty() || c.writable_len < kHeaderSize) {
      rxq.undo_pop();
      transport_->fail(net_error(c.readable.empty()
                                     ? "an RX buffer is smaller than the 12-byte header"
                                     : "an RX descriptor chain has device-readable buffers"));
      return false;
    }
    if (iovecs + c.writable.size() > kMaxRxIovecs) {
      rxq.undo_pop();
      capped = true;
      break;
    }
    covered += c.writable_len;
    iovecs += c.writable.size();
    held_.push_back(std::move(c));
  }
  if (held_.empty()) return false;
  if (!mergeable_ || covered >= rx_needed_ || capped) return true;
  // Too little for the largest frame: wait for more, unless the guest already gave us so
  // much of its ring that it may refill only after it has received something.
  return held_.size() >= rxq.config().size / 2u;
}

void Net::run_rx() {
  if (!rx_live()) return;
  const GuestMemory& mem = transport_->memory();
  bool any = false;
  for (uint32_t frames = 0; frames < kRxBatch;) {
    if (!gather_rx_chains()) {
      rx_waiting_ = transport_->active();  // a failed queue is not waited on
      break;
    }
    std::vector<iovec> iov;
    uint64_t covered = 0;
    for (const DescriptorChain& c : held_) {
      std::vector<iovec> part = ChainCursor(mem, c.writable).iovecs(c.writable_len);
      iov.insert(iov.end(), part.begin(), part.end());
      covered += c.writable_len;
    }
    // Whatever lands here did not fit the guest's buffers.
    iov.push_back({overflow_.data(), overflow_.size()});
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size();
    const ssize_t n = is_tap_ ? ::readv(fd_.get(), iov.data(), static_cast<int>(iov.size()))
                              : ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && is_again(errno)) break;
    if (n < 0) {
      link_lost(std::string("reading a frame failed: ") + std::strerror(errno));
      break;
    }
    if (n == 0 && !is_tap_) {
      link_lost("the peer closed");
      break;
    }
    ++frames;
    const auto len = static_cast<uint64_t>(n);
    if (len < kHeaderSize || len > covered) {
      ++counters_.rx_dropped;  // the chains stay held and take the next frame
      continue;
    }
    if (Status s = deliver_rx(len); !s.ok()) return transport_->fail(s.error());
    any = true;
  }
  if (any) transport_->signal_used(kRxQueue);
}

Status Net::deliver_rx(uint64_t len) {
  const GuestMemory& mem = transport_->memory();
  std::vector<VirtqUsedElem> used;
  for (uint64_t left = len; left > 0;) {
    const DescriptorChain& c = held_.at(used.size());
    const auto n = static_cast<uint32_t>(std::min<uint64_t>(left, c.writable_len));
    used.push_back({c.head, n});
    left -= n;
  }
  // The backend wrote a 10-byte header and skipped num_buffers; the count is ours to say.
  const auto num_buffers = static_cast<uint16_t>(used.size());
  ChainCursor header(mem, held_.front().writable);
  EMBER_CHECK(header.skip(offsetof(VirtioNetHeader, num_buffers)));
  EMBER_CHECK(header.write({reinterpret_cast<const uint8_t*>(&num_buffers), 2}));
  EMBER_CHECK(add_used_together(transport_->queue(kRxQueue), mem, used));
  held_.erase(held_.begin(), held_.begin() + static_cast<ptrdiff_t>(used.size()));
  ++counters_.rx_frames;
  counters_.rx_bytes += len;
  return {};
}

}  // namespace ember::vmm::virtio
