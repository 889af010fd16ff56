// ember-vmm --standby: a VMM started ahead of need. It opens KVM and creates an empty VM,
// then waits on --api-sock for the one request that names the snapshot to restore; the
// exec, the start-up and the VM's creation are then off a cold start's critical path
// (Firecracker's model: a running process, then a snapshot-load API call).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/unix_socket.h"
#include "vmm/control/control_protocol.h"
#include "vmm/logger.h"
#include "vmm/vmm.h"

namespace ember::vmm {
namespace {

constexpr size_t kMaxRequestBytes = 64 * 1024;

struct PendingRestore {
  UniqueFd client;  // the reply goes here
  RestoreRequest request;
};

void reply(int fd, const std::string& line) {
  const std::string out = line + "\n";
  (void)!::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
}

// One line from a client, without its newline; false when it closed or sent too much. The
// client waits for the reply, so nothing follows the line.
bool read_line(int fd, std::string* line) {
  char buf[4096];
  while (line->size() < kMaxRequestBytes) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    line->append(buf, static_cast<size_t>(n));
    if (const size_t end = line->find('\n'); end != std::string::npos) {
      line->resize(end);
      return true;
    }
  }
  return false;
}

// Waits until a client connects to listener; an error when the parent is gone (the
// lifeline hung up) or the standby timeout passes first.
Status await_client(int listener, const VmmConfig& flags) {
  using Clock = std::chrono::steady_clock;
  const bool bounded = flags.standby_timeout.count() > 0;
  const Clock::time_point deadline = flags.start_time + flags.standby_timeout;
  for (;;) {
    pollfd fds[2] = {{listener, POLLIN, 0}, {flags.lifeline_fd, POLLIN, 0}};
    timespec wait{};
    if (bounded) {
      const auto left = std::max(Clock::duration::zero(), deadline - Clock::now());
      wait.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(left).count();
      wait.tv_nsec = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count() %
                     1'000'000'000;
    }
    const int n = ::ppoll(fds, flags.lifeline_fd >= 0 ? 2 : 1, bounded ? &wait : nullptr,
                          nullptr);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("standby", "ppoll");
    if (fds[1].revents != 0) {
      return make_error("standby", "the parent process (emberd) is gone; nothing to restore");
    }
    if (fds[0].revents != 0) return {};
    if (bounded && Clock::now() >= deadline) {
      return make_error("standby", "no restore request within --standby-timeout " +
                                       std::to_string(flags.standby_timeout.count()) + " s");
    }
  }
}

// Serves clients one at a time until one sends a well-formed restore request; the others
// get an error reply, so a bad request does not use up the standby VMM.
Result<PendingRestore> await_restore_request(const VmmConfig& flags) {
  const std::string& api_sock = flags.api_sock;
  EMBER_TRY(UniqueFd listener, listen_unix(api_sock, 16));
  log_info("standby: waiting for a restore request on " + api_sock);
  for (;;) {
    if (Status waited = await_client(listener.get(), flags); !waited.ok()) {
      ::unlink(api_sock.c_str());
      return waited.error();
    }
    UniqueFd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return errno_error("accept", api_sock);
    }
    std::string line;
    if (!read_line(client.get(), &line)) continue;
    auto request = parse_restore_request(line);
    if (!request.ok()) {
      reply(client.get(), control_status_reply(request.error()));
      continue;
    }
    // The restored VM's control server binds the same path afresh.
    ::unlink(api_sock.c_str());
    return PendingRestore{std::move(client), std::move(request).value()};
  }
}

}  // namespace

ExitCode run_standby(const VmmConfig& flags, const seccomp::ThreadFilters* filters) {
  auto vmm = Vmm::create_for_restore(flags);
  if (!vmm.ok()) {
    log_error(vmm.error().message());
    return ExitCode::kVmmError;
  }
  log_debug("standby: created the VM " +
            std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - flags.start_time)
                               .count()) +
            " us after main()");
  auto pending = await_restore_request(flags);
  if (!pending.ok()) {
    log_error(pending.error().message());
    return ExitCode::kVmmError;
  }
  VmmConfig config = flags;
  config.standby = false;
  config.restore_dir = pending->request.dir;
  config.vsock_uds = pending->request.vsock_uds;
  config.restore_disks = pending->request.disks;
  config.start_paused = pending->request.start_paused;
  // --net-fd stays as the standby's own flags gave it (the namespace was joined in run()):
  // emberd makes the tap before it starts the standby VMM.
  // "first KVM_RUN after N us" then counts from the request, as a restore's latency does.
  config.start_time = std::chrono::steady_clock::now();
  Status loaded = (*vmm)->load_snapshot(config);
  reply(pending->client.get(), control_status_reply(loaded));
  pending->client.reset();
  if (!loaded.ok()) {
    log_error(loaded.error().message());
    return ExitCode::kVmmError;
  }
  return run_to_exit(**vmm, config, filters);
}

}  // namespace ember::vmm
