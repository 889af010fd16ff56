// QueuePoller: workers that claim or read batches, run them, and acknowledge what succeeded.
#include "host/events/queue_poller.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/utc_time.h"
#include "host/api/function_validation.h"
#include "host/events/batch_invoker.h"
#include "host/events/source_records.h"

namespace ember::host {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(2);
constexpr auto kIoTimeout = std::chrono::seconds(10);
constexpr int64_t kReadBlockMs = 1000;

// Each entry's delivery count, from XPENDING over the batch's id range.
Result<std::map<std::string, int64_t>> receive_counts(RedisConnection& c, const std::string& key,
                                                      const std::string& group,
                                                      const std::vector<StreamEntry>& batch) {
  std::string low = batch.front().id, high = batch.front().id;
  for (const StreamEntry& e : batch) {
    // Ids order by their two numbers; comparing as (ms, seq) pairs.
    auto number = [](const std::string& id) {
      return std::pair(std::stoull(id.substr(0, id.find('-'))),
                       std::stoull(id.substr(id.find('-') + 1)));
    };
    if (number(e.id) < number(low)) low = e.id;
    if (number(e.id) > number(high)) high = e.id;
  }
  EMBER_TRY(RedisValue reply, c.command({"XPENDING", key, group, low, high, "10000"}));
  std::map<std::string, int64_t> counts;
  for (const RedisValue& row : reply.elements) {
    if (row.elements.size() >= 4) counts[row.elements[0].text] = row.elements[3].integer;
  }
  return counts;
}

}  // namespace

QueuePoller::QueuePoller(MappingSettings settings, PollerDeps deps)
    : settings_(std::move(settings)),
      deps_(std::move(deps)),
      reporter_(settings_.uuid, deps_.report),
      group_(mapping_group(settings_.uuid)) {
  figures_.started_ms = unix_now_ms();
  const size_t workers = std::max<size_t>(1, settings_.max_concurrency);
  for (size_t i = 0; i < workers; ++i) workers_.emplace_back([this, i] { work(i); });
}

QueuePoller::~QueuePoller() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

bool QueuePoller::stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

bool QueuePoller::pause(std::chrono::milliseconds how_long) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, how_long, [this] { return stopping_; });
}

void QueuePoller::work(size_t index) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string consumer = "emberd@" + std::string(host) + "#" + std::to_string(index);
  Backoff backoff;
  while (!stopping()) {
    auto connection = RedisConnection::connect(deps_.server, kConnectTimeout, kIoTimeout);
    Status ready = connection.ok()
                       ? ensure_group(connection.value(), settings_.source.key, group_, "0")
                       : Status(connection.error());
    if (!ready.ok()) {
      const auto wait = backoff.next();
      reporter_.report("PROBLEM: Redis server '" + deps_.server.name + "' (" +
                       deps_.server.describe() + "): " + ready.error().message() +
                       "; retrying in " + std::to_string(wait.count()) + " ms");
      pause(wait);
      continue;
    }
    backoff.reset();
    std::string cursor = "0-0";
    while (!stopping()) {
      if (Status polled = poll_once(connection.value(), consumer, cursor); !polled.ok()) {
        reporter_.report("PROBLEM: Redis server '" + deps_.server.name +
                         "': " + polled.error().message());
        pause(backoff.next());
        break;  // connect again
      }
    }
  }
}

Status QueuePoller::poll_once(RedisConnection& connection, const std::string& consumer,
                              std::string& cursor) {
  const std::string& key = settings_.source.key;
  EMBER_TRY(auto claimed,
            xautoclaim(connection, key, group_, consumer, settings_.visibility_timeout_ms, cursor,
                       settings_.batch_size));
  // Redis counts deleted entries against COUNT: an empty claim with a cursor still moving
  // means the scan is not over. The next poll goes on from the cursor either way.
  const bool scan_over = claimed.first == "0-0";
  cursor = claimed.first;
  std::vector<StreamEntry> batch = std::move(claimed.second);
  std::erase_if(batch, [](const StreamEntry& e) { return e.deleted; });
  if (batch.empty() && !scan_over) return {};
  if (batch.empty()) {
    const int64_t block =
        settings_.batching_window_ms > 0 ? settings_.batching_window_ms : kReadBlockMs;
    EMBER_TRY(batch, xreadgroup(connection, group_, consumer, key, settings_.batch_size, block));
  }
  if (batch.empty()) {
    if (auto lag = group_lag(connection, key, group_); lag.ok()) figures_.lag = lag.value();
    return {};
  }
  EMBER_TRY(auto counts, receive_counts(connection, key, group_, batch));

  std::vector<nlohmann::json> records;
  std::vector<std::string> ids, settled;  // settled: acknowledged without a run
  for (const StreamEntry& entry : batch) {
    SourceEntry source{.id = entry.id, .fields = entry.fields};
    source.receive_count = counts.contains(entry.id) ? counts.at(entry.id) : 1;
    nlohmann::json record = queue_record(source, settings_.source_arn, deps_.region);
    // After MaximumRetryAttempts receives (at least one), the record goes to OnFailure.
    if (settings_.max_retries >= 0 &&
        source.receive_count > std::max<int64_t>(1, settings_.max_retries)) {
      if (!send_to_on_failure(record, entry.id).ok()) continue;  // received again later
      settled.push_back(entry.id);
    } else if (!passes_filters(settings_.filters, filterable_view(record, SourceKind::kQueue))) {
      settled.push_back(entry.id);
    } else {
      records.push_back(std::move(record));
      ids.push_back(entry.id);
    }
  }
  EMBER_CHECK(xack(connection, key, group_, settled));
  if (records.empty()) return {};

  ++figures_.batches_in_flight;
  BatchOutcome outcome = invoke_batch(deps_.functions, deps_.runner, settings_.function_name,
                                      records, ids, settings_.report_item_failures);
  --figures_.batches_in_flight;
  if (outcome.kind == BatchOutcome::Kind::kNotRun) {
    reporter_.report(outcome.problem);
    pause(std::chrono::seconds(1));
    return {};  // unacknowledged: received again after the visibility timeout
  }
  figures_.records += static_cast<int64_t>(records.size());
  if (outcome.kind == BatchOutcome::Kind::kFunctionError) {
    reporter_.report("PROBLEM: Function call failed");
    return {};
  }
  std::vector<std::string> done;
  for (const std::string& id : ids) {
    if (std::find(outcome.failed_ids.begin(), outcome.failed_ids.end(), id) ==
        outcome.failed_ids.end()) {
      done.push_back(id);
    }
  }
  reporter_.report(outcome.failed_ids.empty() ? "OK" : "PROBLEM: Function call failed");
  return xack(connection, key, group_, done);
}

Status QueuePoller::send_to_on_failure(const nlohmann::json& record, const std::string& id) {
  std::fprintf(stderr,
               "emberd: event source mapping %s: record %s received %lld times without success%s\n",
               settings_.uuid.c_str(), id.c_str(),
               static_cast<long long>(std::max<int64_t>(1, settings_.max_retries)),
               settings_.on_failure.empty() ? "; no OnFailure destination: dropped" : "");
  if (settings_.on_failure.empty()) return {};
  std::string target = settings_.on_failure;
  if (!looks_like_redis_arn(target)) {
    auto name = resolve_function_name(target, "", deps_.region);
    if (!name.ok()) return make_error("send to OnFailure", name.error().message);
    target = name.value();
  }
  auto queued = deps_.events.enqueue(NewEvent{.request_id = id,
                                              .function_name = target,
                                              .payload = record.dump(),
                                              .accepted_ms = unix_now_ms(),
                                              .source = "event-source-mapping"});
  if (!queued.ok()) return queued.error();
  return {};
}

}  // namespace ember::host
