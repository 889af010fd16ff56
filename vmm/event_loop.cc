// EventLoop: epoll dispatch with registration tokens, stopped through an eventfd.
#include "vmm/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <array>

namespace ember::vmm {

namespace {
constexpr uint64_t kStopToken = 0;
constexpr int kMaxEvents = 64;
}  // namespace

Result<EventLoop> EventLoop::create() {
  EventLoop loop;
  loop.epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!loop.epoll_) return errno_error("epoll_create1");
  loop.stop_event_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!loop.stop_event_) return errno_error("eventfd", "event loop stop");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kStopToken;
  if (::epoll_ctl(loop.epoll_.get(), EPOLL_CTL_ADD, loop.stop_event_.get(), &ev) != 0) {
    return errno_error("epoll_ctl add", "stop eventfd");
  }
  return loop;
}

Status EventLoop::add(int fd, uint32_t events, Handler handler) {
  if (by_fd_.contains(fd)) return make_error("event loop add", "fd already watched");
  const uint64_t token = next_token_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return errno_error("epoll_ctl add", "fd " + std::to_string(fd));
  }
  by_fd_[fd] = token;
  entries_[token] = Entry{fd, std::make_shared<Handler>(std::move(handler))};
  return {};
}

Status EventLoop::modify(int fd, uint32_t events) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return make_error("event loop modify", "fd not watched");
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = it->second;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) {
    return errno_error("epoll_ctl mod", "fd " + std::to_string(fd));
  }
  return {};
}

void EventLoop::remove(int fd) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  // Failure here means the fd was already closed, which drops it from epoll anyway.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  entries_.erase(it->second);
  by_fd_.erase(it);
}

Result<int> EventLoop::run_once(int timeout_ms) {
  std::array<epoll_event, kMaxEvents> events;
  const int n = ::epoll_wait(epoll_.get(), events.data(), kMaxEvents, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return 0;
    return errno_error("epoll_wait");
  }
  int called = 0;
  for (int i = 0; i < n; ++i) {
    const uint64_t token = events[i].data.u64;
    if (token == kStopToken) {
      uint64_t value = 0;
      // Draining the counter; EAGAIN just means another batch already did.
      (void)!::read(stop_event_.get(), &value, sizeof(value));
      stopping_ = true;
      continue;
    }
    auto it = entries_.find(token);
    if (it == entries_.end()) continue;  // removed by an earlier handler of this batch
    // Holding a reference keeps the handler alive if it removes itself.
    std::shared_ptr<Handler> handler = it->second.handler;
    (*handler)(events[i].events);
    ++called;
  }
  return called;
}

Status EventLoop::run() {
  stopping_ = false;
  while (!stopping_) {
    EMBER_TRY(int called, run_once(-1));
    (void)called;
  }
  return {};
}

void EventLoop::stop() {
  const uint64_t one = 1;
  // The only possible failure is a saturated counter, which already means "stop".
  (void)!::write(stop_event_.get(), &one, sizeof(one));
}

}  // namespace ember::vmm
