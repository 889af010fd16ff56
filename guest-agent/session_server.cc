// SessionServer: the accept loop, one thread per connection, and the Ready notification.
#include "guest-agent/session_server.h"
#include "guest-agent/vsock_address.h"

#include <linux/vm_sockets.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "guest-agent/exec_runner.h"

namespace ember::agent {
namespace {

// Reads "CONNECT <port>\n" byte by byte (nothing past the newline is consumed) and answers.
bool answer_handshake(int fd) {
  std::string line;
  char c;
  while (line.size() < 64) {
    ssize_t n = ::recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (c == '\n') break;
    line += c;
  }
  if (!line.starts_with("CONNECT ")) return false;
  return send_all(fd, "OK " + line.substr(8) + "\n").ok();
}

Result<UniqueFd> connect_ready_socket(const std::string& unix_path) {
  if (unix_path.empty()) {
    UniqueFd s(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) return errno_error("socket(AF_VSOCK)");
    const sockaddr_vm addr = vsock_address(kHostCid, kAgentReadyPort);
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      return errno_error("connect to the host's Ready port", "vsock 2:1025");
    }
    return s;
  }
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return errno_error("socket(AF_UNIX)");
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (unix_path.size() >= sizeof addr.sun_path) return make_error("ready socket", "path too long");
  std::memcpy(addr.sun_path, unix_path.c_str(), unix_path.size() + 1);
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return errno_error("connect to the Ready socket", unix_path);
  }
  return s;
}

// Waits until the peer closes (or timeout_ms passes), so a reply is read before a reboot.
void wait_for_close(int fd, int timeout_ms) {
  ::shutdown(fd, SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[256];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EINTR)) return;
  }
}

bool reply_error(int fd, std::string message) {
  return send_all(fd, encode_frame(ErrorReply{std::move(message)})).ok();
}

// Sends the result, or its error as an ErrorReply; false when the session is gone.
template <typename T>
bool reply_result(int fd, Result<T> result) {
  if (!result.ok()) return reply_error(fd, result.error().message());
  return send_all(fd, encode_frame(AgentMessage(std::move(result).value()))).ok();
}

}  // namespace

Status send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("send");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Status send_ready(const std::function<ReadyMsg()>& make_ready, const std::string& unix_path,
                  int retry_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_ms);
  std::chrono::milliseconds pause(10);
  for (;;) {
    auto s = connect_ready_socket(unix_path);
    if (s.ok()) {
      EMBER_CHECK(send_all(s->get(), encode_frame(make_ready())));
      ::shutdown(s->get(), SHUT_WR);
      return {};
    }
    if (std::chrono::steady_clock::now() >= deadline) return s.error();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

SessionServer::SessionServer(UniqueFd listener, ChildReaper& reaper, ServerOptions options)
    : listener_(std::move(listener)),
      reaper_(reaper),
      options_(options),
      stop_event_(::eventfd(0, EFD_CLOEXEC)) {}

Status SessionServer::run() {
  if (!stop_event_) return errno_error("eventfd");
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return errno_error("poll listener");
    }
    if (fds[1].revents) return {};
    if (!fds[0].revents) continue;
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
      return errno_error("accept");
    }
    if (sessions_.load() >= options_.max_sessions) {
      (void)send_all(conn.get(), encode_frame(ErrorReply{"too many sessions"}));
      continue;
    }
    ++sessions_;
    std::thread([this, c = std::move(conn)]() mutable {
      serve(std::move(c));
      --sessions_;
    }).detach();
  }
}

void SessionServer::serve(UniqueFd conn) {
  if (options_.vsock_handshake && !answer_handshake(conn.get())) return;
  FrameDecoder decoder;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    ssize_t n = ::recv(conn.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    decoder.feed(buf.data(), static_cast<size_t>(n));
    for (;;) {
      auto message = decoder.next();
      if (!message.ok()) {
        // The frame is skipped (or the stream is lost); the host learns why either way.
        if (!send_all(conn.get(), encode_frame(ErrorReply{message.error().message()})).ok()) return;
        if (!decoder.in_sync()) return;
        continue;
      }
      if (!message->has_value()) break;
      if (!handle(conn.get(), std::move(**message))) return;
    }
  }
}

bool SessionServer::handle(int fd, AgentMessage message) {
  if (auto* request = std::get_if<ExecRequest>(&message)) {
    return reply_result(fd, run_exec(reaper_, *request));
  }
  FunctionRuntime* runtime = options_.function_runtime;
  if (auto* init = std::get_if<InitRuntime>(&message)) {
    if (runtime == nullptr) return reply_error(fd, "this agent runs no functions");
    return reply_result(fd, runtime->init(*init));
  }
  if (auto* invoke = std::get_if<Invoke>(&message)) {
    if (runtime == nullptr) return reply_error(fd, "this agent runs no functions");
    if (options_.prefetcher != nullptr) options_.prefetcher->stop();
    return reply_result(fd, runtime->invoke(*invoke));
  }
  if (auto* refresh = std::get_if<Refresh>(&message)) {
    AgentMessage reply = handle_refresh(*refresh, options_.refresh);
    const bool refreshed = std::holds_alternative<RefreshAck>(reply);
    // Before the ack: the host's next Invoke must find the runtime told of the restore.
    if (runtime != nullptr && refreshed) runtime->note_refresh();
    const bool sent = send_all(fd, encode_frame(reply)).ok();
    // After it: starting the prefetch's thread is no part of the restore.
    if (refreshed && options_.refresh.prefetch && !refresh->prefetch.empty()) {
      options_.refresh.prefetch(std::move(refresh->prefetch));
    }
    return sent;
  }
  if (std::holds_alternative<ShutdownRequest>(message)) {
    if (runtime != nullptr) runtime->stop();
    ::sync();
    if (send_all(fd, encode_frame(ShutdownAck{})).ok()) wait_for_close(fd, 1000);
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_event_.get(), &one, sizeof one);
    return false;
  }
  std::string what = message_type_name(message_type(message));
  return reply_error(fd, "unexpected " + what + " from the host");
}

}  // namespace ember::agent
