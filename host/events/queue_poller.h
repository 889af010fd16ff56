// QueuePoller: one event source mapping over a Redis stream used as a queue, processed as
// Lambda processes SQS: batches in parallel (MaximumConcurrency), each record acknowledged
// once the function succeeded with it, failed ones received again after a visibility timeout
// (XAUTOCLAIM), and a record received more than MaximumRetryAttempts times sent to OnFailure.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "host/events/source_poller.h"

namespace ember::host {

class QueuePoller {
 public:
  QueuePoller(MappingSettings settings, PollerDeps deps);
  ~QueuePoller();  // stops and joins; batches in flight stay unacknowledged (received again)
  QueuePoller(const QueuePoller&) = delete;
  QueuePoller& operator=(const QueuePoller&) = delete;

  const PollerFigures& figures() const { return figures_; }
  const MappingSettings& settings() const { return settings_; }

 private:
  void work(size_t index);
  // One batch on `connection`: redeliveries first, else new records; an error when Redis failed.
  Status poll_once(RedisConnection& connection, const std::string& consumer,
                   std::string& cursor);
  Status send_to_on_failure(const nlohmann::json& record, const std::string& id);
  // Sleeps unless stopping; false when stopping.
  bool pause(std::chrono::milliseconds how_long);
  bool stopping();

  const MappingSettings settings_;
  PollerDeps deps_;
  ResultReporter reporter_;
  const std::string group_;
  PollerFigures figures_;
  std::mutex mu_;  // stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ember::host
