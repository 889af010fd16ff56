// StreamPoller: one event source mapping over a Redis stream, processed as Lambda processes
// a Kinesis shard: in order, one batch in flight, retried whole, from the first reported
// failure, or bisected, and checkpointed by the consumer group's acknowledgements.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "host/events/source_poller.h"

namespace ember::host {

class StreamPoller {
 public:
  StreamPoller(MappingSettings settings, PollerDeps deps);
  ~StreamPoller();  // stops and joins; the batch in flight is left unacknowledged
  StreamPoller(const StreamPoller&) = delete;
  StreamPoller& operator=(const StreamPoller&) = delete;

  const PollerFigures& figures() const { return figures_; }
  const MappingSettings& settings() const { return settings_; }

 private:
  void run();
  Status connect();
  // The next batch: this consumer's pending entries first (a batch left unfinished by a
  // failure or a crash), else new ones, gathered for up to the batching window.
  Result<std::vector<StreamEntry>> collect();
  // Runs the batch to its end (success, or given up on and sent to OnFailure); false when it
  // stopped early (Redis failed, or emberd is stopping): the rest stays pending.
  bool process(const std::vector<StreamEntry>& batch);
  // Sends a batch description to OnFailure through the durable event queue.
  Status send_to_on_failure(const std::vector<StreamEntry>& part, const std::string& condition,
                            int attempts, const std::string& request_id,
                            const std::string& function_error);
  Status ack(const std::vector<std::string>& ids);
  // Sleeps unless stopping; false when stopping.
  bool pause(std::chrono::milliseconds how_long);

  const MappingSettings settings_;
  PollerDeps deps_;
  ResultReporter reporter_;
  const std::string group_;
  const std::string consumer_;
  std::unique_ptr<RedisConnection> connection_;
  PollerFigures figures_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};  // set under mu_, so wake_ sees it
  std::thread thread_;
};

}  // namespace ember::host
