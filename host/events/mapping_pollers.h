// MappingPollers: the one owner of the pollers of every event source mapping; keeps them in
// step with the mapping store and reports their state and figures.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host/api/router.h"
#include "host/events/queue_poller.h"
#include "host/events/stream_poller.h"
#include "host/store/event_source_mapping_store.h"

namespace ember::host {

struct MappingPollersOptions {
  std::vector<RedisServer> servers;
  std::string region = "us-east-1";
  // Queues: how long a received record stays invisible; 0: the function's timeout plus 10 s.
  std::chrono::seconds visibility_timeout{0};
};

class MappingPollers {
 public:
  // The stores, the runner and the queue outlive this. Starts the pollers of the stored
  // mappings at once.
  MappingPollers(EventSourceMappingStore& mappings, FunctionStore& functions,
                 InvocationRunner& runner, EventQueue& events, MappingPollersOptions options);
  ~MappingPollers();  // stops every poller; batches in flight stay unacknowledged
  MappingPollers(const MappingPollers&) = delete;
  MappingPollers& operator=(const MappingPollers&) = delete;

  // A mapping was created, changed or deleted: pollers start, restart or stop soon.
  void changed();

  // GET /ember/v1/event-source-mappings/{uuid}/status: State, LastProcessingResult, Lag,
  // BatchesInFlight, Records and RecordsPerSecond (for `ember mappings`).
  void add_routes(Router& router);

 private:
  struct Running {
    int64_t last_modified_ms = 0;
    std::unique_ptr<StreamPoller> stream;
    std::unique_ptr<QueuePoller> queue;
    const PollerFigures& figures() const { return stream ? stream->figures() : queue->figures(); }
  };
  void loop();
  void reconcile();
  Result<MappingSettings> settings_for(const EventSourceMapping& mapping);
  HttpResponse status(const std::string& uuid);

  EventSourceMappingStore& mappings_;
  FunctionStore& functions_;
  InvocationRunner& runner_;
  EventQueue& events_;
  const MappingPollersOptions options_;
  std::mutex mu_;  // running_, dirty_, stopping_
  std::condition_variable wake_;
  bool dirty_ = true;
  bool stopping_ = false;
  std::map<std::string, Running> running_;
  std::thread thread_;
};

}  // namespace ember::host
