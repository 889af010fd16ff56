// AgentReplies: readiness of the agents' sockets and the deadlines, on one Asio I/O thread.
#include "host/agent_replies.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <vector>

namespace ember::host {

namespace asio = boost::asio;

struct AgentReplies::Wait {
  Wait(asio::io_context& io, AgentSession& agent, int watched_fd, Done then)
      : session(agent), readable(io, watched_fd), deadline(io), done(std::move(then)) {}
  AgentSession& session;
  asio::posix::stream_descriptor readable;  // a duplicate of the session's descriptor
  asio::steady_timer deadline;
  Done done;
};

AgentReplies::AgentReplies()
    : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}

AgentReplies::~AgentReplies() {
  asio::post(io_, [this] {
    const std::vector<std::shared_ptr<Wait>> pending(waits_.begin(), waits_.end());
    for (const auto& wait : pending) {
      finish(wait, Error{ECANCELED, "receive from agent", "emberd is shutting down"});
    }
  });
  work_.reset();
  thread_.join();
}

void AgentReplies::wait(AgentSession& session, Clock::time_point deadline, Done done) {
  // A duplicate to watch, so that the session keeps sole ownership of its own descriptor.
  const int watched = ::fcntl(session.fd(), F_DUPFD_CLOEXEC, 0);
  if (watched < 0) return done(errno_error("receive from agent", "duplicate the descriptor"));
  asio::post(io_, [this, &session, watched, deadline, done = std::move(done)]() mutable {
    auto wait = std::make_shared<Wait>(io_, session, watched, std::move(done));
    waits_.insert(wait);
    wait->deadline.expires_at(deadline);
    wait->deadline.async_wait([this, wait](const boost::system::error_code& ec) {
      if (ec) return;  // the reply came first
      finish(wait, Error{ETIMEDOUT, "receive from agent", "no reply by the invocation's deadline"});
    });
    on_readable(wait);  // a reply may be in already
  });
}

void AgentReplies::watch(const std::shared_ptr<Wait>& wait) {
  wait->readable.async_wait(asio::posix::stream_descriptor::wait_read,
                            [this, wait](const boost::system::error_code& ec) {
                              if (ec) return;  // finished meanwhile
                              on_readable(wait);
                            });
}

void AgentReplies::on_readable(const std::shared_ptr<Wait>& wait) {
  if (!waits_.contains(wait)) return;
  auto got = wait->session.receive_available();
  if (!got.ok()) return finish(wait, got.error());
  if (*got) return finish(wait, std::move(**got));
  watch(wait);
}

void AgentReplies::finish(const std::shared_ptr<Wait>& wait, Result<AgentMessage> result) {
  if (waits_.erase(wait) == 0) return;
  wait->deadline.cancel();
  boost::system::error_code ignored;
  wait->readable.close(ignored);
  Done done = std::move(wait->done);
  done(std::move(result));
}

}  // namespace ember::host
