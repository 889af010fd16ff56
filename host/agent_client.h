// AgentClient and AgentSession: the host side of the agent protocol over the VMM's vsock uds.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/agent_protocol.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::host {

using Millis = std::chrono::milliseconds;

// One connection to the agent. Requests on a session run one after another; open more
// sessions to run several at once.
class AgentSession {
 public:
  // Connects to the VMM's vsock Unix socket and opens guest port `port` with
  // "CONNECT <port>\n" / "OK <n>\n". Retries while the socket is missing or refuses, until
  // timeout.
  static Result<AgentSession> connect_vsock(const std::string& vsock_uds, uint32_t port,
                                            Millis timeout);
  // For a VM just restored from a snapshot: connect_vsock() to the exec port, then
  // refresh(). The guest may handle the vsock transport reset after accepting this
  // connection and reset it, so a session closed or reset before RefreshAck is opened
  // again, until timeout; an ErrorReply is not retried. `check`, when given, runs between
  // attempts and its error ends them (e.g. the VMM exited). The Refresh carries prefetch.
  static Result<AgentSession> connect_refreshed(const std::string& vsock_uds, Millis timeout,
                                                const std::function<Status()>& check = {},
                                                const std::vector<GuestPageRun>& prefetch = {});
  // Connects to a Unix socket that speaks frames at once (ember-agent --serve-unix).
  static Result<AgentSession> connect_unix(const std::string& path, Millis timeout);
  // A session on an already connected socket (the accepted Ready connection).
  static AgentSession adopt(UniqueFd fd) { return AgentSession(std::move(fd)); }

  // Runs one request. rpc_timeout bounds the whole round trip; by default the request's
  // timeout plus 10 s, or no bound when the request has none. An ErrorReply from the agent
  // (program not found, bad cwd, malformed frame) becomes an error with its message.
  Result<ExecResult> exec(const ExecRequest& request, std::optional<Millis> rpc_timeout = {});

  // The first request after a snapshot restore or a boot: sends Refresh with kRefreshEntropyBytes
  // from getrandom() and the host's CLOCK_REALTIME (read just before sending), and waits for
  // RefreshAck. An ErrorReply (the agent could not add entropy or set the clock) is an error
  // naming what failed. prefetch: the snapshot's working set in guest pages, for the agent
  // to read in the background (at most kMaxRefreshPrefetchRuns of it are sent).
  Status refresh(Millis timeout, const std::vector<GuestPageRun>& prefetch = {});
  // As refresh(), with a message the caller built (tests).
  Status refresh(const Refresh& message, Millis timeout);

  // Starts the function's runtime in the guest and waits for the end of its init: the
  // InitResult, ok or not (the runtime's own init error, its exit, a missing bootstrap, the
  // init timeout). An ErrorReply (unknown runtime, a second InitRuntime, a failed mount)
  // becomes an error with its message. No answer within timeout: an error with code
  // ETIMEDOUT, after which the session is out of step and should be closed.
  Result<InitResult> init_runtime(const InitRuntime& request, Millis timeout);

  // Runs one invocation on the initialized runtime (this session need not be the one that
  // sent InitRuntime): the InvokeResult of a response, a function error or the runtime's
  // exit. An ErrorReply (no init yet, an invocation already running, a malformed request)
  // becomes an error; a payload over kMaxInvokePayload is refused before sending. No answer
  // within timeout: an error with code ETIMEDOUT (close the session; the guest's runtime
  // still holds the invocation).
  Result<InvokeResult> invoke(const Invoke& request, Millis timeout);
  // invoke() in two halves, for a caller that waits elsewhere (AgentReplies): sends the
  // Invoke, refusing it as invoke() does; a guest that does not take it all within timeout
  // gets an ETIMEDOUT error.
  Status send_invoke(const Invoke& request, Millis timeout);

  // What has arrived, without waiting: the next message once a whole one is in, else
  // std::nullopt. An error once the agent closed the session, or for a frame that does not
  // decode.
  Result<std::optional<AgentMessage>> receive_available();

  // Asks the agent to sync and power off; waits for ShutdownAck, then closes the session
  // (the agent reboots once the host has closed it).
  Status shutdown(Millis timeout);

  // Low level, for tests and future messages. With a timeout, a guest that does not take
  // all the bytes by then (it stopped draining vsock) gets an ETIMEDOUT error.
  Status send(const AgentMessage& message, std::optional<Millis> timeout = {});
  Status send_raw(std::string_view bytes, std::optional<Millis> timeout = {});
  // The next message; an error on timeout, EOF, or a frame that does not decode.
  Result<AgentMessage> receive(std::optional<Millis> timeout);

  int fd() const { return fd_.get(); }

 private:
  explicit AgentSession(UniqueFd fd) : fd_(std::move(fd)) {}

  UniqueFd fd_;
  FrameDecoder decoder_;
};

// The agent's reply to Invoke as its InvokeResult; an ErrorReply (with its message) or any
// other message is an error.
Result<InvokeResult> invoke_reply(Result<AgentMessage> reply);

// The host's handle on one guest's agent: the Ready listener plus sessions on demand.
class AgentClient {
 public:
  // Binds and listens on <vsock_uds>_1025 (replacing a stale socket file). Call before the
  // VMM starts so the agent's Ready connection finds it.
  static Result<AgentClient> listen(const std::string& vsock_uds);

  // For a VM restored from a snapshot, whose agent is already serving and sends no Ready:
  // opens a session on the exec port through the VMM's vsock uds (retrying until timeout
  // while the VMM comes up), sends Refresh first, and keeps the session for exec().
  static Result<AgentClient> attach_restored(const std::string& vsock_uds, Millis timeout);

  AgentClient(AgentClient&&) noexcept = default;
  AgentClient& operator=(AgentClient&&) noexcept = default;
  // Removes the Ready socket file (unless moved from).
  ~AgentClient();

  // Accepts the agent's connection on the Ready port and reads its Ready message. An error
  // for a client from attach_restored(), which has no Ready listener.
  // `check`, when given, runs about every 100 ms while waiting; its error ends the wait
  // (e.g. the VMM exited).
  Result<ReadyMsg> wait_ready(Millis timeout, const std::function<Status()>& check = {});

  // A new session on the agent's exec port (1024) through the VMM's vsock uds.
  Result<AgentSession> connect(Millis timeout = Millis(5000));

  // exec() and shutdown() on a session the client opens on first use and keeps.
  Result<ExecResult> exec(const ExecRequest& request, std::optional<Millis> rpc_timeout = {});
  Status shutdown(Millis timeout);

  const std::string& vsock_uds() const { return vsock_uds_; }
  std::string ready_socket_path() const {
    return vsock_uds_ + "_" + std::to_string(kAgentReadyPort);
  }

 private:
  AgentClient(std::string vsock_uds, UniqueFd listener)
      : vsock_uds_(std::move(vsock_uds)), listener_(std::move(listener)) {}

  std::string vsock_uds_;
  UniqueFd listener_;
  std::optional<AgentSession> session_;
};

}  // namespace ember::host
