// ControlServer: the --api-sock Unix socket, served on the VMM's event loop.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/control/control_protocol.h"
#include "vmm/event_loop.h"

namespace ember::vmm {

// Accepts any number of clients; each sends newline-terminated JSON requests and gets
// one reply line per request, in order. A client sending more than kMaxLine bytes without
// a newline gets an error and is dropped. The loop and target must outlive the server.
class ControlServer {
 public:
  static constexpr size_t kMaxLine = 64 * 1024;

  // Binds `path` (replacing a stale socket file) and starts watching it on `loop`.
  static Result<std::unique_ptr<ControlServer>> create(const std::string& path, EventLoop& loop,
                                                       ControlTarget& target);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& path() const { return path_; }

 private:
  struct Client {
    UniqueFd fd;
    std::string in;
    std::string out;
  };

  ControlServer(std::string path, EventLoop& loop, ControlTarget& target, UniqueFd listener)
      : path_(std::move(path)), loop_(loop), target_(target), listener_(std::move(listener)) {}

  void on_accept();
  void on_client(int fd, uint32_t events);
  // Sends what it can of client.out; false when the client must be dropped.
  bool flush(Client& client);
  void drop(int fd);

  std::string path_;
  EventLoop& loop_;
  ControlTarget& target_;
  UniqueFd listener_;
  std::unordered_map<int, Client> clients_;
};

}  // namespace ember::vmm
