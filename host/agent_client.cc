// AgentClient and AgentSession: Unix sockets, the vsock CONNECT handshake, framed requests.
#include "host/agent_client.h"

#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <thread>

#include "common/unix_socket.h"

namespace ember::host {
namespace {

using Clock = std::chrono::steady_clock;
using Deadline = SocketDeadline;

Deadline deadline_after(std::optional<Millis> timeout) {
  if (!timeout) return std::nullopt;
  return Clock::now() + *timeout;
}

Status wait_readable(int fd, Deadline deadline, const char* what) {
  return wait_socket_ready(fd, POLLIN, deadline, what);
}

Result<UniqueFd> connect_unix_socket(const std::string& path) {
  EMBER_TRY(sockaddr_un addr, unix_address(path));
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return errno_error("socket(AF_UNIX)");
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return errno_error("connect", path);
  }
  return s;
}

// Connects, retrying while the socket is not there yet or nobody accepts.
Result<UniqueFd> connect_with_retry(const std::string& path, Deadline deadline) {
  for (;;) {
    auto s = connect_unix_socket(path);
    if (s.ok()) return s;
    int code = s.error().code;
    bool transient = code == ENOENT || code == ECONNREFUSED || code == EAGAIN;
    if (!transient || Clock::now() >= *deadline) return s.error();
    std::this_thread::sleep_for(Millis(5));
  }
}

// One line ending in '\n', read byte by byte so no frame bytes after it are consumed.
// std::nullopt when the peer closed first.
Result<std::optional<std::string>> read_line(int fd, Deadline deadline) {
  std::string line;
  while (line.size() < 64) {
    EMBER_CHECK(wait_readable(fd, deadline, "vsock handshake"));
    char c;
    ssize_t n = ::recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("vsock handshake", "recv");
    if (n == 0) return std::optional<std::string>();
    if (c == '\n') return std::optional<std::string>(line);
    line += c;
  }
  return make_error("vsock handshake", "reply line too long");
}

size_t request_payload_size(const ExecRequest& r) {
  size_t size = 4 + 4 + 4 + r.cwd.size() + 4 + r.stdin_data.size() + 4 + 8;
  for (const auto& s : r.argv) size += 4 + s.size();
  for (const auto& s : r.env) size += 4 + s.size();
  return size;
}

// The encoded size of what goes into a frame, to refuse it before encode_frame() would abort.
size_t strings_size(const std::vector<std::string>& list) {
  size_t size = 4;
  for (const auto& s : list) size += 4 + s.size();
  return size;
}

// A reply of type Reply; an ErrorReply as an error with its message, anything else as an
// unexpected reply.
template <typename Reply>
Result<Reply> reply_as(AgentMessage reply, const char* what) {
  if (auto* result = std::get_if<Reply>(&reply)) return std::move(*result);
  if (auto* error = std::get_if<ErrorReply>(&reply)) return make_error(what, error->message);
  return make_error(what,
                    std::string("unexpected reply ") + message_type_name(message_type(reply)));
}

// One request/reply round trip, the whole of it within timeout.
template <typename Reply>
Result<Reply> round_trip(AgentSession& session, const AgentMessage& request, Millis timeout,
                         const char* what) {
  const Clock::time_point deadline = Clock::now() + timeout;
  EMBER_CHECK(session.send(request, timeout));
  const auto left =
      std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
  EMBER_TRY(AgentMessage reply, session.receive(left));
  return reply_as<Reply>(std::move(reply), what);
}

// Why an Invoke cannot be sent, if it cannot.
Status check_invoke(const Invoke& request) {
  if (request.payload.size() > kMaxInvokePayload) {
    return make_error("agent invoke", "payload of " + std::to_string(request.payload.size()) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(kMaxInvokePayload));
  }
  size_t size = 6 * 4 + 8 + request.request_id.size() + request.invoked_function_arn.size() +
                request.trace_id.size() + request.client_context.size() +
                request.cognito_identity.size() + request.payload.size();
  if (size > kMaxFramePayload)
    return make_error("agent invoke", "request larger than the frame limit");
  return {};
}

}  // namespace

Result<AgentSession> AgentSession::connect_vsock(const std::string& vsock_uds, uint32_t port,
                                                 Millis timeout) {
  Deadline deadline = deadline_after(timeout);
  for (;;) {
    EMBER_TRY(UniqueFd fd, connect_with_retry(vsock_uds, deadline));
    EMBER_CHECK(send_all(fd.get(), "CONNECT " + std::to_string(port) + "\n", deadline, "send to agent"));
    EMBER_TRY(std::optional<std::string> line, read_line(fd.get(), deadline));
    if (line) {
      if (!line->starts_with("OK ")) {
        return make_error("vsock handshake", "unexpected reply '" + *line + "'");
      }
      return AgentSession(std::move(fd));
    }
    // The VMM closes the connection when nothing listens on the guest port (yet).
    if (Clock::now() >= *deadline) {
      return make_error("vsock handshake",
                        "guest port " + std::to_string(port) + " refused the connection");
    }
    std::this_thread::sleep_for(Millis(5));
  }
}

Result<AgentSession> AgentSession::connect_unix(const std::string& path, Millis timeout) {
  EMBER_TRY(UniqueFd fd, connect_with_retry(path, deadline_after(timeout)));
  return AgentSession(std::move(fd));
}

Status AgentSession::send(const AgentMessage& message, std::optional<Millis> timeout) {
  return send_raw(encode_frame(message), timeout);
}

Status AgentSession::send_raw(std::string_view bytes, std::optional<Millis> timeout) {
  if (!fd_) return make_error("send to agent", "session is closed");
  // A guest that stops draining its vsock cannot hold the caller past the deadline.
  return send_all(fd_.get(), bytes, deadline_after(timeout), "send to agent");
}

Result<AgentMessage> AgentSession::receive(std::optional<Millis> timeout) {
  if (!fd_) return make_error("receive from agent", "session is closed");
  Deadline deadline = deadline_after(timeout);
  char buf[64 * 1024];
  for (;;) {
    EMBER_TRY(std::optional<AgentMessage> message, decoder_.next());
    if (message) return std::move(*message);
    EMBER_CHECK(wait_readable(fd_.get(), deadline, "receive from agent"));
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("receive from agent");
    if (n == 0) return make_error("receive from agent", "connection closed by the agent");
    decoder_.feed(buf, static_cast<size_t>(n));
  }
}

Result<std::optional<AgentMessage>> AgentSession::receive_available() {
  if (!fd_) return make_error("receive from agent", "session is closed");
  char buf[64 * 1024];
  for (;;) {
    EMBER_TRY(std::optional<AgentMessage> message, decoder_.next());
    if (message) return message;
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return std::optional<AgentMessage>();
    }
    if (n < 0) return errno_error("receive from agent");
    if (n == 0) return make_error("receive from agent", "connection closed by the agent");
    decoder_.feed(buf, static_cast<size_t>(n));
  }
}

Result<ExecResult> AgentSession::exec(const ExecRequest& request,
                                      std::optional<Millis> rpc_timeout) {
  if (request_payload_size(request) > kMaxFramePayload) {
    return make_error("exec", "request larger than the " + std::to_string(kMaxFramePayload) +
                                  "-byte frame limit");
  }
  if (!rpc_timeout && request.timeout_ms > 0) rpc_timeout = Millis(request.timeout_ms + 10'000);
  EMBER_CHECK(send(request, rpc_timeout));
  EMBER_TRY(AgentMessage reply, receive(rpc_timeout));
  return reply_as<ExecResult>(std::move(reply), "agent exec");
}

Result<InitResult> AgentSession::init_runtime(const InitRuntime& request, Millis timeout) {
  size_t size = 5 * 4 + request.runtime.size() + request.handler.size() +
                request.code_device.size() + request.task_root.size() + strings_size(request.env);
  if (size > kMaxFramePayload) {
    return make_error("agent init_runtime", "request larger than the frame limit");
  }
  return round_trip<InitResult>(*this, request, timeout, "agent init_runtime");
}

Result<InvokeResult> AgentSession::invoke(const Invoke& request, Millis timeout) {
  EMBER_CHECK(check_invoke(request));
  return round_trip<InvokeResult>(*this, request, timeout, "agent invoke");
}

Status AgentSession::send_invoke(const Invoke& request, Millis timeout) {
  EMBER_CHECK(check_invoke(request));
  return send(request, timeout);
}

Result<InvokeResult> invoke_reply(Result<AgentMessage> reply) {
  if (!reply.ok()) return reply.error();
  return reply_as<InvokeResult>(std::move(reply).value(), "agent invoke");
}

Status AgentSession::refresh(Millis timeout, const std::vector<GuestPageRun>& prefetch) {
  Refresh message;
  message.prefetch.assign(prefetch.begin(),
                          prefetch.begin() + std::min<size_t>(prefetch.size(),
                                                              kMaxRefreshPrefetchRuns));
  message.entropy.resize(kRefreshEntropyBytes);
  size_t got = 0;
  while (got < message.entropy.size()) {
    ssize_t n = ::getrandom(message.entropy.data() + got, message.entropy.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("getrandom", "entropy for the agent's Refresh");
    got += static_cast<size_t>(n);
  }
  timespec now = {};
  if (::clock_gettime(CLOCK_REALTIME, &now) != 0) return errno_error("clock_gettime");
  message.unix_time_ns =
      static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
  return refresh(message, timeout);
}

Status AgentSession::refresh(const Refresh& message, Millis timeout) {
  EMBER_CHECK(send(message, timeout));
  EMBER_TRY(AgentMessage reply, receive(timeout));
  // An agent from before the prefetch field (in an older snapshot) refuses the frame, and
  // reads on: it gets the Refresh again without the field.
  const auto* refused = std::get_if<ErrorReply>(&reply);
  if (refused != nullptr && !message.prefetch.empty() &&
      refused->message.find("decode Refresh payload") != std::string::npos) {
    Refresh plain = message;
    plain.prefetch.clear();
    return refresh(plain, timeout);
  }
  EMBER_CHECK(reply_as<RefreshAck>(std::move(reply), "agent refresh"));
  return {};
}

Status AgentSession::shutdown(Millis timeout) {
  EMBER_CHECK(send(ShutdownRequest{}, timeout));
  EMBER_TRY(AgentMessage reply, receive(timeout));
  EMBER_CHECK(reply_as<ShutdownAck>(std::move(reply), "agent shutdown"));
  fd_.reset();  // the agent waits for this close before it reboots
  return {};
}

Result<AgentClient> AgentClient::listen(const std::string& vsock_uds) {
  std::string path = vsock_uds + "_" + std::to_string(kAgentReadyPort);
  EMBER_TRY(UniqueFd s, listen_unix(path, 4));
  return AgentClient(vsock_uds, std::move(s));
}

Result<AgentSession> AgentSession::connect_refreshed(const std::string& vsock_uds, Millis timeout,
                                                     const std::function<Status()>& check,
                                                     const std::vector<GuestPageRun>& prefetch) {
  // Short steps, so that `check` runs often while the VMM comes up.
  constexpr Millis kStep(250);
  const Clock::time_point deadline = Clock::now() + timeout;
  auto left = [&] {
    return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
  };
  for (;;) {
    auto session = connect_vsock(vsock_uds, kAgentExecPort, std::min(kStep, left()));
    Error error = session.ok() ? Error{} : session.error();
    if (session.ok()) {
      Status refreshed = session->refresh(left(), prefetch);
      if (refreshed.ok()) return std::move(session).value();
      error = refreshed.error();
      // The agent answered: it will answer the same way again.
      if (error.op == "agent refresh") return error;
    }
    if (check) EMBER_CHECK(check());
    if (Clock::now() >= deadline) {
      error.op = "connect to the restored agent within " + std::to_string(timeout.count()) +
                 " ms: " + error.op;
      return error;
    }
    std::this_thread::sleep_for(Millis(5));
  }
}

Result<AgentClient> AgentClient::attach_restored(const std::string& vsock_uds, Millis timeout) {
  EMBER_TRY(AgentSession session, AgentSession::connect_refreshed(vsock_uds, timeout));
  AgentClient client(vsock_uds, UniqueFd());
  client.session_.emplace(std::move(session));
  return client;
}

AgentClient::~AgentClient() {
  if (listener_) ::unlink(ready_socket_path().c_str());
}

Result<ReadyMsg> AgentClient::wait_ready(Millis timeout, const std::function<Status()>& check) {
  if (!listener_) {
    return make_error("wait for the agent's Ready", "this client has no Ready listener");
  }
  Deadline deadline = deadline_after(timeout);
  for (;;) {
    // Short slices, so that a VMM that already exited is noticed at once.
    const Deadline slice = std::min(*deadline, Clock::now() + Millis(100));
    Status readable = wait_readable(listener_.get(), slice, "wait for the agent's Ready");
    if (readable.ok()) break;
    if (readable.error().code != ETIMEDOUT || Clock::now() >= *deadline) return readable.error();
    if (check) EMBER_CHECK(check());
  }
  UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return errno_error("accept the agent's Ready connection");
  AgentSession ready = AgentSession::adopt(std::move(conn));
  auto left = std::chrono::duration_cast<Millis>(*deadline - Clock::now());
  EMBER_TRY(AgentMessage message, ready.receive(std::max(left, Millis(0))));
  if (auto* msg = std::get_if<ReadyMsg>(&message)) return std::move(*msg);
  return make_error("wait for the agent's Ready",
                    std::string("got ") + message_type_name(message_type(message)));
}

Result<AgentSession> AgentClient::connect(Millis timeout) {
  return AgentSession::connect_vsock(vsock_uds_, kAgentExecPort, timeout);
}

Result<ExecResult> AgentClient::exec(const ExecRequest& request,
                                     std::optional<Millis> rpc_timeout) {
  if (!session_) {
    EMBER_TRY(AgentSession session, connect());
    session_.emplace(std::move(session));
  }
  auto result = session_->exec(request, rpc_timeout);
  if (!result.ok()) session_.reset();  // start clean: the connection may be out of step
  return result;
}

Status AgentClient::shutdown(Millis timeout) {
  if (!session_) {
    EMBER_TRY(AgentSession session, connect(timeout));
    session_.emplace(std::move(session));
  }
  Status s = session_->shutdown(timeout);
  session_.reset();
  return s;
}

}  // namespace ember::host
