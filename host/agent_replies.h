// AgentReplies: waits for agents' replies on one thread of its own, each until its own
// deadline, so that an invocation waiting on its VM holds no thread while the handler runs.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <thread>

#include "host/agent_client.h"

namespace ember::host {

class AgentReplies {
 public:
  using Clock = std::chrono::steady_clock;
  using Done = std::function<void(Result<AgentMessage>)>;

  AgentReplies();
  // Waits still pending end with an ECANCELED error.
  ~AgentReplies();
  AgentReplies(const AgentReplies&) = delete;
  AgentReplies& operator=(const AgentReplies&) = delete;

  // Waits for the session's next message until the deadline, then calls done once with it,
  // with an ETIMEDOUT error at the deadline, or with the session's error (the agent closed
  // it, a frame that does not decode). done runs on this object's thread and must not
  // block. The session must outlive the wait and stay unused until done.
  void wait(AgentSession& session, Clock::time_point deadline, Done done);

 private:
  struct Wait;
  void watch(const std::shared_ptr<Wait>& wait);
  void on_readable(const std::shared_ptr<Wait>& wait);
  void finish(const std::shared_ptr<Wait>& wait, Result<AgentMessage> result);

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::set<std::shared_ptr<Wait>> waits_;  // pending; used on the thread only
  std::thread thread_;
};

}  // namespace ember::host
