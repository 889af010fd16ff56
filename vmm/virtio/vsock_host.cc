// Vsock host side: the listening Unix socket, CONNECT handshakes and per-connection events.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>

#include "common/unix_socket.h"
#include "vmm/virtio/vsock.h"

namespace ember::vmm::virtio {

namespace {

constexpr size_t kMaxConnectLine = 64;

// "CONNECT <port>" with a decimal u32 port, the newline already removed.
bool parse_connect(std::string_view line, uint32_t* port) {
  constexpr std::string_view kVerb = "CONNECT ";
  if (!line.starts_with(kVerb)) return false;
  line.remove_prefix(kVerb.size());
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), *port);
  return ec == std::errc() && end == line.data() + line.size() && !line.empty();
}

}  // namespace

Result<std::unique_ptr<Vsock>> Vsock::create(const VsockConfig& config, EventLoop& loop) {
  if (config.guest_cid <= kVsockHostCid || config.guest_cid >= 0xffffffff) {
    return make_error("create vsock", "guest CID must be in 3..2^32-2");
  }
  EMBER_TRY(UniqueFd fd, listen_unix(config.uds_path, 64, SOCK_NONBLOCK));
  std::unique_ptr<Vsock> vsock(new Vsock(config, loop, std::move(fd)));
  Vsock* self = vsock.get();
  EMBER_CHECK(loop.add(self->listener_.get(), EPOLLIN, [self](uint32_t) { self->on_listener(); }));
  return vsock;
}

Vsock::Vsock(const VsockConfig& config, EventLoop& loop, UniqueFd listener)
    : guest_cid_(config.guest_cid),
      uds_path_(config.uds_path),
      loop_(loop),
      listener_(std::move(listener)),
      scratch_(kVsockMaxPayload) {}

Vsock::~Vsock() {
  close_all();
  loop_.remove(listener_.get());
  ::unlink(uds_path_.c_str());
}

void Vsock::close_all() {
  for (auto& [fd, sock] : pending_host_) loop_.remove(fd);
  pending_host_.clear();
  for (auto& [key, conn] : conns_) {
    if (conn->registered) loop_.remove(conn->sock.get());
  }
  conns_.clear();
  rx_control_.clear();
  rx_ready_.clear();
  held_requests_.clear();
  tx_stalled_ = false;
}

void Vsock::on_listener() {
  if (transport_ == nullptr) return;
  std::lock_guard lock(transport_->mutex());
  for (;;) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;  // EAGAIN, or a transient error the next wakeup retries
    const int raw = fd.get();
    if (!loop_.add(raw, EPOLLIN, [this, raw](uint32_t) { on_pending_host(raw); }).ok()) continue;
    pending_host_.emplace(raw, std::move(fd));
  }
}

void Vsock::on_pending_host(int fd) {
  std::lock_guard lock(transport_->mutex());
  auto it = pending_host_.find(fd);
  if (it == pending_host_.end()) return;
  // Peek so bytes after the newline stay in the socket for the stream.
  char buf[kMaxConnectLine];
  const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  const char* nl = n > 0 ? static_cast<const char*>(std::memchr(buf, '\n', n)) : nullptr;
  if (nl == nullptr && n > 0 && static_cast<size_t>(n) < sizeof(buf)) return;  // partial line
  UniqueFd sock = std::move(it->second);
  pending_host_.erase(it);
  loop_.remove(fd);
  // Consume the line (or the garbage) even when refusing: closing a Unix socket with
  // unread bytes makes the peer see ECONNRESET instead of a clean end of file.
  const ssize_t line_len = nl != nullptr ? nl - buf + 1 : std::max<ssize_t>(n, 0);
  char discard[kMaxConnectLine];
  if (line_len > 0 && ::recv(fd, discard, line_len, MSG_DONTWAIT) != line_len) return;
  uint32_t port = 0;
  if (nl == nullptr || !parse_connect(std::string_view(buf, nl - buf), &port)) return;
  uint32_t local = next_local_port_;
  while (conns_.contains(key_of(local, port))) ++local;
  next_local_port_ = local + 1 < (1u << 30) ? (1u << 30) : local + 1;
  const Key key = key_of(local, port);
  auto conn = std::make_unique<VsockConnection>(std::move(sock), local, port,
                                                VsockConnection::State::kConnecting);
  VsockConnection& ref = *conn;
  conns_.emplace(key, std::move(conn));
  register_connection(ref, key);
  if (reset_event_pending_ || awaiting_reset_done_) {
    held_requests_.push_back(key);
    return;
  }
  send_control(ref, kOpRequest);
  fill_rx();
}

void Vsock::connect_to_host(const VsockHeader& request) {
  const Key key = key_of(request.dst_port, request.src_port);
  // A request on a live key means the guest forgot the old stream; so do we.
  if (conns_.contains(key)) drop_connection(key);
  auto addr = unix_address(uds_path_ + "_" + std::to_string(request.dst_port));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!addr.ok() || !fd ||
      ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un)) != 0) {
    return rst_reply(request);
  }
  auto conn = std::make_unique<VsockConnection>(std::move(fd), request.dst_port, request.src_port,
                                                VsockConnection::State::kEstablished);
  conn->peer_buf_alloc = request.buf_alloc;
  conn->peer_fwd_cnt = request.fwd_cnt;
  VsockConnection& ref = *conn;
  conns_.emplace(key, std::move(conn));
  register_connection(ref, key);
  send_control(ref, kOpResponse);
}

void Vsock::register_connection(VsockConnection& conn, Key key) {
  const uint32_t events = conn.wanted_events();
  conn.registered =
      loop_.add(conn.sock.get(), events, [this, key](uint32_t ev) { on_connection(key, ev); }).ok();
}

void Vsock::update_interest(VsockConnection& conn) {
  if (conn.registered) (void)loop_.modify(conn.sock.get(), conn.wanted_events());
}

void Vsock::drop_connection(Key key) {
  auto it = conns_.find(key);
  if (it == conns_.end()) return;
  if (it->second->registered) loop_.remove(it->second->sock.get());
  conns_.erase(it);  // closing the socket tells the host side
}

void Vsock::on_connection(Key key, uint32_t events) {
  std::lock_guard lock(transport_->mutex());
  auto it = conns_.find(key);
  if (it == conns_.end()) return;
  VsockConnection& conn = *it->second;
  if ((events & EPOLLERR) ||
      ((events & EPOLLHUP) && conn.state == VsockConnection::State::kConnecting)) {
    return reset_connection(key);
  }
  if (events & EPOLLOUT) {
    if (!conn.flush_to_host()) return reset_connection(key);
    after_flush(key);
    if (!conns_.contains(key)) return;
  }
  if (events & EPOLLHUP) {
    // Both directions are gone; stop watching (HUP would fire forever) and drain what
    // is left through the rx queue, which ends in end-of-file.
    loop_.remove(conn.sock.get());
    conn.registered = false;
    // Nobody will read these any more; the guest's next write fails and resets.
    conn.tx_buf.clear();
    conn.tx_head = 0;
  }
  if ((events & (EPOLLIN | EPOLLHUP)) && !conn.in_ready && !conn.host_eof) {
    conn.in_ready = true;
    rx_ready_.push_back(key);
  }
  update_interest(conn);
  fill_rx();
}

}  // namespace ember::vmm::virtio
