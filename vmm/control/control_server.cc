// ControlServer: non-blocking accept, line framing and buffered replies.
#include "vmm/control/control_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "common/unix_socket.h"
#include "vmm/logger.h"

namespace ember::vmm {

Result<std::unique_ptr<ControlServer>> ControlServer::create(const std::string& path,
                                                             EventLoop& loop,
                                                             ControlTarget& target) {
  EMBER_TRY(UniqueFd fd, listen_unix(path, 16, SOCK_NONBLOCK));
  std::unique_ptr<ControlServer> server(new ControlServer(path, loop, target, std::move(fd)));
  ControlServer* self = server.get();
  EMBER_CHECK(loop.add(self->listener_.get(), EPOLLIN, [self](uint32_t) { self->on_accept(); }));
  return server;
}

ControlServer::~ControlServer() {
  for (auto& [fd, client] : clients_) loop_.remove(fd);
  clients_.clear();
  if (listener_) {
    loop_.remove(listener_.get());
    ::unlink(path_.c_str());
  }
}

void ControlServer::on_accept() {
  for (;;) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        log_warn("api socket: accept: " + std::string(std::strerror(errno)));
      }
      return;
    }
    const int raw = fd.get();
    Status s = loop_.add(raw, EPOLLIN, [this, raw](uint32_t ev) { on_client(raw, ev); });
    if (!s.ok()) {
      log_warn("api socket: " + s.error().message());
      continue;
    }
    clients_[raw].fd = std::move(fd);
  }
}

void ControlServer::on_client(int fd, uint32_t events) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& c = it->second;
  if (events & EPOLLOUT) {
    if (!flush(c)) return drop(fd);
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  char buf[4096];
  const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return drop(fd);
  c.in.append(buf, static_cast<size_t>(n));
  size_t nl;
  while ((nl = c.in.find('\n')) != std::string::npos) {
    std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    c.out += handle_control_request(line, target_) + "\n";
  }
  if (c.in.size() > kMaxLine) {
    c.out += "{\"ok\":false,\"error\":\"request line longer than 65536 bytes\"}\n";
    flush(c);
    return drop(fd);
  }
  if (!flush(c)) drop(fd);
}

bool ControlServer::flush(Client& c) {
  while (!c.out.empty()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return false;
    }
    c.out.erase(0, static_cast<size_t>(n));
  }
  const uint32_t want = c.out.empty() ? EPOLLIN : (EPOLLIN | EPOLLOUT);
  return loop_.modify(c.fd.get(), want).ok();
}

void ControlServer::drop(int fd) {
  loop_.remove(fd);
  clients_.erase(fd);
}

}  // namespace ember::vmm
