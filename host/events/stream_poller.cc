// StreamPoller: read, filter, invoke, retry or bisect, send failures on, acknowledge.
#include "host/events/stream_poller.h"

#include <unistd.h>

#include <cstdio>
#include <deque>

#include "common/utc_time.h"
#include "host/api/function_validation.h"
#include "host/events/batch_invoker.h"
#include "host/events/source_records.h"

namespace ember::host {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(2);
constexpr auto kIoTimeout = std::chrono::seconds(10);
constexpr int64_t kFirstRecordWaitMs = 1000;  // one blocking read, then a look at stopping_

// The arrival time of an entry: the time part of its id.
int64_t entry_ms(const std::string& id) { return std::atoll(id.c_str()); }

std::string this_host() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name[0] != '\0' ? name : "localhost";
}

// The consumer group's starting point for a StartingPosition.
std::string group_start(const MappingSettings& s) {
  if (s.starting_position == "TRIM_HORIZON") return "0";
  if (s.starting_position == "AT_TIMESTAMP" && s.starting_timestamp_ms > 0) {
    // The group delivers entries after this id: every entry from the timestamp on.
    return std::to_string(s.starting_timestamp_ms - 1) + "-18446744073709551615";
  }
  return "$";
}

std::vector<std::string> ids_of(const std::vector<StreamEntry>& entries) {
  std::vector<std::string> ids;
  for (const StreamEntry& entry : entries) ids.push_back(entry.id);
  return ids;
}

}  // namespace

StreamPoller::StreamPoller(MappingSettings settings, PollerDeps deps)
    : settings_(std::move(settings)),
      deps_(std::move(deps)),
      reporter_(settings_.uuid, deps_.report),
      group_(mapping_group(settings_.uuid)),
      consumer_("emberd@" + this_host()) {
  figures_.started_ms = unix_now_ms();
  thread_ = std::thread([this] { run(); });
}

StreamPoller::~StreamPoller() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool StreamPoller::pause(std::chrono::milliseconds how_long) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, how_long, [this] { return stopping_.load(); });
}

Status StreamPoller::connect() {
  EMBER_TRY(RedisConnection connection,
            RedisConnection::connect(deps_.server, kConnectTimeout, kIoTimeout));
  EMBER_CHECK(ensure_group(connection, settings_.source.key, group_, group_start(settings_)));
  connection_ = std::make_unique<RedisConnection>(std::move(connection));
  return {};
}

void StreamPoller::run() {
  Backoff backoff;
  while (!stopping_) {
    if (connection_ == nullptr || connection_->broken()) {
      connection_.reset();
      if (auto connected = connect(); !connected.ok()) {
        const auto wait = backoff.next();
        reporter_.report("PROBLEM: Redis server '" + deps_.server.name + "' (" +
                         deps_.server.describe() + "): " + connected.error().message() +
                         "; retrying in " + std::to_string(wait.count()) + " ms");
        pause(wait);
        continue;
      }
    }
    auto batch = collect();
    if (!batch.ok()) {
      connection_.reset();
      reporter_.report("PROBLEM: Redis server '" + deps_.server.name +
                       "': " + batch.error().message());
      pause(backoff.next());
      continue;
    }
    backoff.reset();
    if (batch->empty()) {
      if (auto lag = group_lag(*connection_, settings_.source.key, group_); lag.ok()) {
        figures_.lag = lag.value();
      }
      continue;
    }
    figures_.batches_in_flight = 1;
    process(batch.value());
    figures_.batches_in_flight = 0;
  }
}

Result<std::vector<StreamEntry>> StreamPoller::collect() {
  const std::string& key = settings_.source.key;
  EMBER_TRY(auto pending, xreadgroup(*connection_, group_, consumer_, key, settings_.batch_size,
                                     std::nullopt, "0"));
  // Entries deleted or trimmed while pending come back empty: acknowledged, never run.
  std::vector<std::string> gone;
  std::erase_if(pending, [&](const StreamEntry& e) {
    if (e.deleted) gone.push_back(e.id);
    return e.deleted;
  });
  EMBER_CHECK(ack(gone));
  if (!pending.empty()) return pending;
  std::vector<StreamEntry> entries;
  const auto window = std::chrono::milliseconds(settings_.batching_window_ms);
  auto deadline = std::chrono::steady_clock::now() + window;
  while (!stopping_) {
    int64_t block = kFirstRecordWaitMs;
    if (!entries.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      // A BLOCK must end before the connection's own timeout.
      block = std::min<int64_t>(
          left.count(),
          std::chrono::duration_cast<std::chrono::milliseconds>(kIoTimeout).count() - 1000);
    }
    EMBER_TRY(auto got, xreadgroup(*connection_, group_, consumer_, key,
                                   settings_.batch_size - entries.size(), block, ">"));
    // The window opens with the first record.
    if (entries.empty() && !got.empty()) deadline = std::chrono::steady_clock::now() + window;
    entries.insert(entries.end(), got.begin(), got.end());
    if (entries.empty()) break;  // nothing came: look at stopping_ and the lag
    if (entries.size() >= settings_.batch_size || window.count() == 0) break;
  }
  return entries;
}

Status StreamPoller::ack(const std::vector<std::string>& ids) {
  if (ids.empty()) return {};
  return xack(*connection_, settings_.source.key, group_, ids);
}

bool StreamPoller::process(const std::vector<StreamEntry>& batch) {
  // Records the filters drop are acknowledged with the batch, never run.
  std::vector<StreamEntry> kept;
  std::vector<std::string> dropped;
  for (const StreamEntry& entry : batch) {
    const SourceEntry source{.id = entry.id, .fields = entry.fields};
    const auto record =
        stream_record(source, settings_.source_arn, settings_.source.key, deps_.region);
    if (passes_filters(settings_.filters, filterable_view(record, SourceKind::kStream))) {
      kept.push_back(entry);
    } else {
      dropped.push_back(entry.id);
    }
  }
  std::deque<std::vector<StreamEntry>> parts;
  if (!kept.empty()) parts.push_back(kept);
  int attempts = 0;
  Backoff not_run;
  while (!parts.empty()) {
    if (stopping_) return false;
    std::vector<StreamEntry> part = parts.front();
    std::vector<nlohmann::json> records;
    for (const StreamEntry& entry : part) {
      records.push_back(stream_record({.id = entry.id, .fields = entry.fields},
                                      settings_.source_arn, settings_.source.key, deps_.region));
    }
    const std::vector<std::string> ids = ids_of(part);
    BatchOutcome outcome = invoke_batch(deps_.functions, deps_.runner, settings_.function_name,
                                        records, ids, settings_.report_item_failures);
    if (outcome.kind == BatchOutcome::Kind::kNotRun) {
      reporter_.report(outcome.problem);
      if (!pause(not_run.next())) return false;
      continue;  // not an attempt
    }
    not_run.reset();
    figures_.records += static_cast<int64_t>(part.size());
    if (outcome.kind == BatchOutcome::Kind::kSucceeded && outcome.failed_ids.empty()) {
      if (!ack(ids).ok()) return false;
      reporter_.report("OK");
      parts.pop_front();
      attempts = 0;
      continue;
    }
    // A failure: the whole part, or from the first record the function reported.
    size_t first_failed = 0;
    if (outcome.kind == BatchOutcome::Kind::kSucceeded) {
      while (part[first_failed].id != outcome.failed_ids.front()) ++first_failed;
      std::vector<std::string> done(ids.begin(), ids.begin() + first_failed);
      if (!ack(done).ok()) return false;
      part.erase(part.begin(), part.begin() + first_failed);
    }
    ++attempts;
    reporter_.report("PROBLEM: Function call failed");
    const bool too_old =
        settings_.max_record_age_s >= 0 &&
        unix_now_ms() - entry_ms(part.front().id) > settings_.max_record_age_s * 1000;
    const bool exhausted = settings_.max_retries >= 0 && attempts > settings_.max_retries;
    if (too_old || exhausted) {
      const std::string condition = too_old ? "RecordAgeExceeded" : "RetryAttemptsExhausted";
      if (!send_to_on_failure(part, condition, attempts, outcome.request_id,
                              outcome.function_error.empty() ? "Unhandled" : outcome.function_error)
               .ok() ||
          !ack(ids_of(part)).ok()) {
        return false;
      }
      parts.pop_front();
      attempts = 0;
      continue;
    }
    parts.pop_front();
    if (settings_.bisect && part.size() > 1 && first_failed == 0) {
      // Halves are tried in order; splitting is not counted against the retries.
      const auto middle = part.begin() + static_cast<long>(part.size() / 2);
      parts.push_front(std::vector<StreamEntry>(middle, part.end()));
      parts.push_front(std::vector<StreamEntry>(part.begin(), middle));
      attempts = 0;
    } else {
      parts.push_front(std::move(part));
    }
  }
  return ack(dropped).ok();
}

Status StreamPoller::send_to_on_failure(const std::vector<StreamEntry>& part,
                                        const std::string& condition, int attempts,
                                        const std::string& request_id,
                                        const std::string& function_error) {
  std::fprintf(stderr,
               "emberd: event source mapping %s: %zu records %s..%s given up (%s after %d "
               "attempts)%s\n",
               settings_.uuid.c_str(), part.size(), part.front().id.c_str(), part.back().id.c_str(),
               condition.c_str(), attempts,
               settings_.on_failure.empty() ? "; no OnFailure destination: dropped" : "");
  if (settings_.on_failure.empty()) return {};
  FailedBatch failed{.request_id = request_id,
                     .function_arn = function_arn(deps_.region, settings_.function_name),
                     .condition = condition,
                     .function_error = function_error,
                     .attempts = attempts,
                     .source_arn = settings_.source_arn,
                     .key = settings_.source.key,
                     .first_id = part.front().id,
                     .last_id = part.back().id,
                     .count = part.size(),
                     .now_ms = unix_now_ms()};
  std::string target = settings_.on_failure;
  if (!looks_like_redis_arn(target)) {
    auto name = resolve_function_name(target, "", deps_.region);
    if (!name.ok()) return make_error("send to OnFailure", name.error().message);
    target = name.value();
  }
  auto queued = deps_.events.enqueue(NewEvent{.request_id = request_id,
                                              .function_name = target,
                                              .payload = failed_batch_record(failed),
                                              .accepted_ms = unix_now_ms(),
                                              .source = "event-source-mapping"});
  if (!queued.ok()) return queued.error();
  return {};
}

}  // namespace ember::host
