// EventLoop: one epoll loop that runs device work (queue notifications, sockets, timers).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::vmm {

// Single-threaded: add/modify/remove and run happen on the loop's thread (or before the
// loop runs), except stop(), which any thread may call. Level-triggered.
class EventLoop {
 public:
  using Handler = std::function<void(uint32_t epoll_events)>;

  static Result<EventLoop> create();

  EventLoop(EventLoop&&) = default;
  EventLoop& operator=(EventLoop&&) = default;

  // Watches fd (not owned) for `events` (EPOLLIN, EPOLLOUT, ...) and calls handler.
  // A handler may add, modify or remove any fd, including its own; after remove(fd)
  // no further events of that registration are delivered, even ones already fetched.
  Status add(int fd, uint32_t events, Handler handler);
  Status modify(int fd, uint32_t events);
  void remove(int fd);
  bool contains(int fd) const { return by_fd_.contains(fd); }

  // Runs until stop(). Handlers run one at a time on this thread.
  Status run();
  // Waits up to timeout_ms (-1: forever) for one batch of events and dispatches it.
  // Returns the number of handlers called. For tests and for callers with their own loop.
  Result<int> run_once(int timeout_ms);
  // Makes run() return after the handler in progress; safe from any thread and from
  // signal handlers (it only writes to an eventfd).
  void stop();

 private:
  struct Entry {
    int fd = -1;
    std::shared_ptr<Handler> handler;
  };

  EventLoop() = default;

  UniqueFd epoll_;
  UniqueFd stop_event_;
  bool stopping_ = false;
  uint64_t next_token_ = 1;  // token 0 is the stop event
  std::unordered_map<int, uint64_t> by_fd_;
  std::unordered_map<uint64_t, Entry> entries_;
};

}  // namespace ember::vmm
