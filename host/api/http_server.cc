// HttpServer: the accept thread, the connection bound and the drain.
#include "host/api/http_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cstdio>
#include <exception>
#include <system_error>

namespace ember::host {

HttpServer::HttpServer(HttpHandler& handler, HttpServerOptions options)
    : handler_(handler), options_(options) {}

HttpServer::~HttpServer() {
  stop();
  std::unique_lock lock(mu_);
  changed_.wait(lock, [this] { return connections_ == 0; });
}

Status HttpServer::start(std::vector<Listener> listeners) {
  if (acceptor_.joinable()) return make_error("start HTTP server", "already started");
  stop_event_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_event_) return errno_error("eventfd");
  listeners_ = std::move(listeners);
  acceptor_ = std::thread([this] { accept_loop(); });
  return {};
}

void HttpServer::stop() {
  {
    std::lock_guard lock(mu_);  // so the acceptor cannot miss the change while at the bound
    if (stopping_.exchange(true)) return;
  }
  changed_.notify_all();
  if (stop_event_) {
    const uint64_t one = 1;
    if (::write(stop_event_.get(), &one, sizeof one) < 0) std::perror("emberd: wake acceptor");
  }
  if (acceptor_.joinable()) acceptor_.join();
  listeners_.clear();  // closes them; a Unix socket's file goes too
}

bool HttpServer::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [this] { return connections_ == 0; });
}

size_t HttpServer::open_connections() const {
  std::lock_guard lock(mu_);
  return connections_;
}

void HttpServer::accept_loop() {
  std::vector<pollfd> polled;
  polled.push_back({stop_event_.get(), POLLIN, 0});
  for (const Listener& listener : listeners_) polled.push_back({listener.fd(), POLLIN, 0});
  while (!stopping_) {
    {
      // At the bound, stop accepting: new clients wait in the backlog.
      std::unique_lock lock(mu_);
      changed_.wait(lock, [this] { return stopping_ || connections_ < options_.max_connections; });
    }
    if (stopping_) return;
    for (pollfd& p : polled) p.revents = 0;
    if (::poll(polled.data(), polled.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("emberd: poll listeners");
      return;
    }
    for (size_t i = 1; i < polled.size() && !stopping_; ++i) {
      if ((polled[i].revents & POLLIN) == 0) continue;
      UniqueFd connection(::accept4(polled[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
      if (!connection) {
        // Out of fds or a connection reset before accept: keep serving the others.
        if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR) {
          std::perror("emberd: accept");
        }
        continue;
      }
      {
        std::lock_guard lock(mu_);
        ++connections_;
      }
      try {
        std::thread([this, fd = std::move(connection)]() mutable {
          try {
            serve(std::move(fd));
          } catch (const std::exception& e) {
            // E.g. no memory for a large body: this connection ends, the daemon goes on.
            std::fprintf(stderr, "emberd: connection dropped: %s\n", e.what());
          }
          std::lock_guard lock(mu_);
          --connections_;
          changed_.notify_all();
        }).detach();
      } catch (const std::system_error& e) {
        // No thread for it: the connection (moved into the lambda) is closed unserved.
        std::fprintf(stderr, "emberd: cannot start a connection thread: %s\n", e.what());
        std::lock_guard lock(mu_);
        --connections_;
      }
    }
  }
}

bool HttpServer::wait_for_request(int fd) const {
  constexpr auto kSlice = std::chrono::milliseconds(100);
  const auto deadline = std::chrono::steady_clock::now() + options_.idle_timeout;
  while (!stopping_) {
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(kSlice.count()));
    if (rc > 0) return true;  // data, or EOF/error for the read to find
    if (rc < 0 && errno != EINTR) return false;
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
  return false;
}

}  // namespace ember::host
