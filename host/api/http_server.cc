// HttpServer: the I/O thread, accepting, the connection bound and the drain.
#include "host/api/http_server.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <cstring>
#include <exception>
#include <future>

#include "host/api/http_connection.h"

namespace ember::host {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// Connections over the bound being answered 503 at once; more are closed unanswered.
constexpr size_t kMaxRefusing = 1024;
// Out of file descriptors (or memory) to accept with: try again after this.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

}  // namespace

HttpServer::HttpServer(HttpHandler& handler, HttpServerOptions options)
    : handler_(handler),
      options_(options),
      io_work_(asio::make_work_guard(io_)),
      handlers_(options.handler_threads) {}

HttpServer::~HttpServer() {
  stop();
  {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [this] { return open_.empty() && refusing_ == 0; });
  }
  handlers_.join();
  io_work_.reset();
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
}

Status HttpServer::start(std::vector<Listener> listeners) {
  if (io_thread_.joinable()) return make_error("start HTTP server", "already started");
  listeners_ = std::move(listeners);
  for (const Listener& listener : listeners_) {
    UniqueFd copy(::fcntl(listener.fd(), F_DUPFD_CLOEXEC, 0));
    if (!copy) return errno_error("watch listener", listener.description());
    const int flags = ::fcntl(copy.get(), F_GETFL);
    if (flags < 0 || ::fcntl(copy.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
      return errno_error("make listener non-blocking", listener.description());
    }
    watched_.push_back(std::make_unique<asio::posix::stream_descriptor>(io_, copy.release()));
  }
  for (size_t i = 0; i < watched_.size(); ++i) watch(i);
  io_thread_ = std::thread([this] {
    while (true) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "emberd: HTTP I/O: %s\n", e.what());
      }
    }
  });
  return {};
}

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  if (io_thread_.joinable()) {
    std::promise<void> done;
    asio::post(io_, [this, &done] {
      for (auto& watched : watched_) {
        error_code ignored;
        watched->close(ignored);
      }
      std::vector<std::shared_ptr<HttpConnection>> open;
      {
        std::lock_guard lock(mu_);
        for (const auto& [raw, weak] : open_) {
          if (auto connection = weak.lock()) open.push_back(std::move(connection));
        }
      }
      for (const auto& connection : open) connection->close_if_idle();
      done.set_value();
    });
    done.get_future().wait();
  }
  listeners_.clear();  // closes them; a Unix socket's file goes too
}

bool HttpServer::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [this] { return open_.empty() && refusing_ == 0; });
}

size_t HttpServer::open_connections() const {
  std::lock_guard lock(mu_);
  return open_.size();
}

void HttpServer::watch(size_t listener) {
  watched_[listener]->async_wait(asio::posix::descriptor_base::wait_read,
                                 [this, listener](const error_code& ec) {
                                   if (ec || stopping_) return;
                                   accept_all(listener);
                                 });
}

void HttpServer::accept_all(size_t listener) {
  while (!stopping_) {
    UniqueFd fd(::accept4(watched_[listener]->native_handle(), nullptr, nullptr,
                          SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return watch(listener);
      // Out of descriptors or memory: the client waits in the backlog; accepting again at
      // once would spin.
      std::fprintf(stderr,
                   "emberd: accept on %s: %s; raise emberd's RLIMIT_NOFILE or lower "
                   "--max-connections\n",
                   listeners_[listener].description().c_str(), std::strerror(errno));
      auto backoff = std::make_shared<asio::steady_timer>(io_, kAcceptBackoff);
      backoff->async_wait([this, listener, backoff](const error_code& ec) {
        if (!ec && !stopping_) watch(listener);
      });
      return;
    }
    bool over;
    {
      std::lock_guard lock(mu_);
      over = open_.size() >= options_.max_connections;
      if (over && refusing_ >= kMaxRefusing) continue;  // closed unanswered
      if (over) ++refusing_;
    }
    auto connection = std::make_shared<HttpConnection>(*this, std::move(fd), over);
    if (over) {
      connection->refuse();
      continue;
    }
    {
      std::lock_guard lock(mu_);
      open_[connection.get()] = connection;
    }
    connection->serve();
  }
}

void HttpServer::closed(HttpConnection* connection) {
  std::lock_guard lock(mu_);
  if (connection->refused()) {
    --refusing_;
  } else {
    open_.erase(connection);
  }
  changed_.notify_all();
}

}  // namespace ember::host
