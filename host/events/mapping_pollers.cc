// MappingPollers: reconciling the running pollers with the stored mappings, and their status.
#include "host/events/mapping_pollers.h"

#include <cstdio>

#include "common/utc_time.h"
#include "host/api/api_error.h"
#include "host/api/lambda_json.h"

namespace ember::host {
namespace {

// Pollers are checked against the store this often even without a change (a server that
// came back is retried by the pollers themselves).
constexpr auto kReconcileEvery = std::chrono::seconds(5);
constexpr size_t kDefaultQueueConcurrency = 5;
constexpr int64_t kVisibilityMarginS = 10;

bool settling(const std::string& state) {
  return state == "Creating" || state == "Enabling" || state == "Updating" ||
         state == "Disabling";
}

}  // namespace

MappingPollers::MappingPollers(EventSourceMappingStore& mappings, FunctionStore& functions,
                               InvocationRunner& runner, EventQueue& events,
                               MappingPollersOptions options)
    : mappings_(mappings),
      functions_(functions),
      runner_(runner),
      events_(events),
      options_(std::move(options)) {
  thread_ = std::thread([this] { loop(); });
}

MappingPollers::~MappingPollers() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  std::lock_guard lock(mu_);
  running_.clear();  // each poller stops and joins
}

void MappingPollers::changed() {
  {
    std::lock_guard lock(mu_);
    dirty_ = true;
  }
  wake_.notify_all();
}

void MappingPollers::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, kReconcileEvery, [this] { return stopping_ || dirty_; });
    if (stopping_) return;
    dirty_ = false;
    lock.unlock();
    reconcile();
    lock.lock();
  }
}

Result<MappingSettings> MappingPollers::settings_for(const EventSourceMapping& m) {
  MappingSettings s;
  s.uuid = m.uuid;
  s.function_name = m.function_name;
  s.source_arn = m.event_source_arn;
  s.source = m.source;
  s.batch_size = static_cast<size_t>(std::max(1, m.batch_size));
  s.batching_window_ms = int64_t{m.max_batching_window_s} * 1000;
  s.starting_position = m.starting_position.empty() ? "TRIM_HORIZON" : m.starting_position;
  s.starting_timestamp_ms = m.starting_position_timestamp_ms;
  s.report_item_failures = m.report_batch_item_failures;
  s.max_retries = m.max_retry_attempts;
  s.max_record_age_s = m.max_record_age_s;
  s.bisect = m.bisect_batch_on_function_error;
  s.on_failure = m.on_failure;
  s.max_concurrency = m.max_concurrency > 0 ? static_cast<size_t>(m.max_concurrency)
                                            : kDefaultQueueConcurrency;
  for (const std::string& pattern : m.filter_patterns) {
    EMBER_TRY(FilterPattern filter, FilterPattern::parse(pattern));
    s.filters.push_back(std::move(filter));
  }
  int64_t visibility_s = options_.visibility_timeout.count();
  if (visibility_s == 0) {
    auto function = functions_.get(m.function_name);
    visibility_s = (function.ok() ? function->timeout_s : 900) + kVisibilityMarginS;
  }
  s.visibility_timeout_ms = visibility_s * 1000;
  return s;
}

void MappingPollers::reconcile() {
  auto stored = mappings_.list(EventSourceMappingQuery{.limit = 100000});
  if (!stored.ok()) {
    std::fprintf(stderr, "emberd: event source mappings: %s\n", stored.error().message().c_str());
    return;
  }
  std::map<std::string, const EventSourceMapping*> wanted;
  for (const EventSourceMapping& m : stored.value()) wanted[m.uuid] = &m;

  // Pollers to stop are destroyed outside the lock: stopping waits for a batch in flight.
  std::vector<Running> retired;
  std::lock_guard lock(mu_);
  for (auto it = running_.begin(); it != running_.end();) {
    const auto found = wanted.find(it->first);
    const bool keep = found != wanted.end() && found->second->enabled &&
                      found->second->last_modified_ms == it->second.last_modified_ms;
    if (keep) {
      ++it;
    } else {
      retired.push_back(std::move(it->second));
      it = running_.erase(it);
    }
  }
  for (const EventSourceMapping& m : stored.value()) {
    EventSourceMappingStatus status;
    const RedisServer* server = nullptr;
    for (const RedisServer& candidate : options_.servers) {
      if (candidate.name == m.source.server) server = &candidate;
    }
    if (!m.enabled) {
      if (m.state != "Disabled") status.state = "Disabled";
    } else if (server == nullptr) {
      status.last_processing_result = "PROBLEM: emberd has no Redis server named '" +
                                      m.source.server + "'; start emberd with --redis " +
                                      m.source.server + "=redis://HOST:PORT";
    } else if (!running_.contains(m.uuid)) {
      auto settings = settings_for(m);
      if (!settings.ok()) {
        status.last_processing_result = "PROBLEM: " + settings.error().message();
      } else {
        PollerDeps deps{.functions = functions_,
                        .runner = runner_,
                        .events = events_,
                        .server = *server,
                        .region = options_.region,
                        .report = [this, uuid = m.uuid](const std::string& result) {
                          (void)mappings_.set_status(
                              uuid, EventSourceMappingStatus{.last_processing_result = result});
                        }};
        Running running{.last_modified_ms = m.last_modified_ms};
        if (m.is_queue()) {
          running.queue = std::make_unique<QueuePoller>(std::move(settings).value(), deps);
        } else {
          running.stream = std::make_unique<StreamPoller>(std::move(settings).value(), deps);
        }
        running_.emplace(m.uuid, std::move(running));
      }
      if (m.state != "Enabled") status.state = "Enabled";
    } else if (settling(m.state)) {
      status.state = "Enabled";
    }
    if (status.state || status.last_processing_result) {
      if (auto set = mappings_.set_status(m.uuid, status); !set.ok()) {
        std::fprintf(stderr, "emberd: %s\n", set.error().message().c_str());
      }
    }
  }
}

void MappingPollers::add_routes(Router& router) {
  router.add("GET", "/ember/v1/event-source-mappings/{uuid}/status",
             [this](const HttpRequest&, const RouteParams& params) {
               return status(params.at("uuid"));
             });
}

HttpResponse MappingPollers::status(const std::string& uuid) {
  auto mapping = mappings_.get(uuid);
  if (!mapping.ok()) {
    return error_response(resource_not_found("The resource you requested does not exist."));
  }
  nlohmann::json body = {{"UUID", uuid},
                         {"FunctionName", mapping->function_name},
                         {"EventSourceArn", mapping->event_source_arn},
                         {"State", mapping->state},
                         {"LastProcessingResult", mapping->last_processing_result}};
  std::lock_guard lock(mu_);
  const auto running = running_.find(uuid);
  if (running != running_.end()) {
    const PollerFigures& f = running->second.figures();
    const double seconds = std::max(1.0, (unix_now_ms() - f.started_ms.load()) / 1000.0);
    body["Lag"] = f.lag.load();
    body["BatchesInFlight"] = f.batches_in_flight.load();
    body["Records"] = f.records.load();
    body["RecordsPerSecond"] = static_cast<double>(f.records.load()) / seconds;
  }
  return json_response(200, body);
}

}  // namespace ember::host
