// EventLoop: one epoll loop that runs device work (queue notifications, sockets, timers).
#pragma once

#include <functional>
#include <mutex>
#include <unordered_map>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::vmm {

// Single-threaded: add/remove and run happen on the loop's thread, except stop(),
// which any thread may call.
class EventLoop {
 public:
  using Handler = std::function<void(uint32_t epoll_events)>;

  static Result<EventLoop> create();

  // Watches fd (not owned) for `events` (EPOLLIN, EPOLLOUT, ...) and calls handler.
  Status add(int fd, uint32_t events, Handler handler);
  Status modify(int fd, uint32_t events);
  void remove(int fd);

  // Runs until stop(). Handlers run one at a time on this thread.
  Status run();
  void stop();

 private:
  UniqueFd epoll_;
  UniqueFd stop_event_;
  std::unordered_map<int, Handler> handlers_;
};

}  // namespace ember::vmm
