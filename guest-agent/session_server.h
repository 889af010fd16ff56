// SessionServer: accepts host connections and serves exec, refresh, runtime and shutdown
// requests on each.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/agent_protocol.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "guest-agent/child_reaper.h"
#include "guest-agent/function_runtime.h"
#include "guest-agent/page_prefetch.h"
#include "guest-agent/refresh.h"

namespace ember::agent {

struct ServerOptions {
  // Answer "CONNECT <port>\n" with "OK <port>\n" first, as ember-vmm does for the host; lets
  // host tests use the real client against ember-agent --serve-unix.
  bool vsock_handshake = false;
  size_t max_sessions = 64;  // further connections get an Error and are closed
  // What a Refresh does; without actions it is answered with an Error.
  RefreshActions refresh;
  // Serves InitRuntime and Invoke (from any session); null: they get an Error.
  FunctionRuntime* function_runtime = nullptr;
  // The working-set prefetch after a restore, which an Invoke ends; may be null.
  PagePrefetcher* prefetcher = nullptr;
};

class SessionServer {
 public:
  // listener: a listening stream socket (vsock or Unix). The server and the reaper must
  // live until the process ends: session threads are detached.
  SessionServer(UniqueFd listener, ChildReaper& reaper, ServerOptions options);

  // Accepts connections, each served on its own thread (requests on one connection run in
  // order). Returns once a Shutdown request has been answered (after sync()) and the peer
  // closed that connection or a second passed; the caller then reboots or exits.
  Status run();

 private:
  void serve(UniqueFd conn);
  // Handles one decoded message; false ends the session.
  bool handle(int fd, AgentMessage message);

  UniqueFd listener_;
  ChildReaper& reaper_;
  ServerOptions options_;
  UniqueFd stop_event_;  // eventfd written when a shutdown has been answered
  std::atomic<size_t> sessions_{0};
};

// Sends the whole buffer on a socket (MSG_NOSIGNAL), retrying short writes and EINTR.
Status send_all(int fd, std::string_view bytes);

// Connects to the host's Ready port: vsock CID 2 port 1025 when unix_path is empty, else a
// Unix socket (test mode); retries, backing off to 200 ms, for up to retry_ms while nobody
// listens or answers; then sends the Ready that make_ready builds (called once connected,
// so its timestamps are current).
Status send_ready(const std::function<ReadyMsg()>& make_ready, const std::string& unix_path,
                  int retry_ms);

}  // namespace ember::agent
