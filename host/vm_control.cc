// vm_control_request: a JSON-lines client for ember-vmm's control socket.
#include "host/vm_control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>

#include "common/unique_fd.h"
#include "common/unix_socket.h"

namespace ember::host {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

Result<std::string> vm_control_request(const std::string& api_sock, const std::string& request_json,
                                       milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (api_sock.size() >= sizeof(addr.sun_path)) {
    return make_error("control request", "socket path too long: " + api_sock);
  }
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", api_sock.c_str());
  UniqueFd fd;
  for (;;) {
    fd = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return errno_error("socket");
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) break;
    if (Clock::now() > deadline) return errno_error("connect to the VMM control socket", api_sock);
    ::usleep(5'000);
  }
  const std::string line = request_json + "\n";
  if (Status sent = send_all(fd.get(), line, deadline, "send a control request"); !sent.ok()) {
    return Error{sent.error().code, "send a control request", api_sock};
  }
  std::string reply;
  while (reply.find('\n') == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd.get(), POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
      return make_error("control request", "no reply to " + request_json + " from " + api_sock);
    }
    char buf[4096];
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n <= 0) {
      return make_error("control request", "the VMM closed the connection; got '" + reply + "'");
    }
    reply.append(buf, static_cast<size_t>(n));
  }
  reply.resize(reply.find('\n'));
  return reply;
}

Status vm_control_ok(const std::string& api_sock, const std::string& request_json,
                     milliseconds timeout) {
  EMBER_TRY(std::string reply, vm_control_request(api_sock, request_json, timeout));
  if (reply != R"({"ok":true})") {
    return make_error("control request " + request_json, "the VMM answered " + reply);
  }
  return {};
}

}  // namespace ember::host
