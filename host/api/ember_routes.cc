// Ember's own routes: a function's log by offset (for `ember logs --follow`), code download
// and the function's async queue (for `ember queue`).
#include <cerrno>

#include "host/api/lambda_api.h"
#include "host/api/lambda_json.h"

namespace ember::host {

HttpResponse LambdaApi::read_logs(const HttpRequest& request, const Params& params) {
  auto record = find_function(request, params);
  if (!record.ok()) return error_response(record.error());
  uint64_t offset = 0;
  const std::string offset_text = request.query_value("offset");
  if (!offset_text.empty()) {
    if (offset_text.size() > 19 ||
        offset_text.find_first_not_of("0123456789") != std::string::npos) {
      return error_response(
          constraint_violation("offset", offset_text, "Member must be a non-negative integer"));
    }
    offset = std::stoull(offset_text);
  }
  auto chunk = logs_.read(record->name, offset);
  if (!chunk.ok()) return error_response(internal_error("read logs", chunk.error()));
  HttpResponse response;
  response.status = 200;
  response.body = std::move(chunk->data);
  response.set_header("Content-Type", "text/plain; charset=utf-8");
  response.set_header("X-Ember-Log-Start", std::to_string(chunk->start_offset));
  response.set_header("X-Ember-Log-Offset", std::to_string(chunk->next_offset));
  return response;
}

HttpResponse LambdaApi::download_code(const HttpRequest&, const Params& params) {
  const std::string& file = params.at("file");
  const std::string suffix = ".zip";
  const bool named_zip = file.size() == 64 + suffix.size() && file.ends_with(suffix);
  const std::string hex = named_zip ? file.substr(0, 64) : std::string();
  auto zip = named_zip ? code_.read_zip(hex) : Result<std::string>(Error{ENOENT, "", ""});
  if (!zip.ok()) {
    if (zip.error().code == ENOENT) {
      return error_response(resource_not_found("No deployment package " + file));
    }
    return error_response(internal_error("read code " + file, zip.error()));
  }
  HttpResponse response;
  response.status = 200;
  response.body = std::move(zip).value();
  response.set_header("Content-Type", "application/zip");
  return response;
}

HttpResponse LambdaApi::async_status(const HttpRequest& request, const Params& params) {
  auto record = find_function(request, params);
  if (!record.ok()) return error_response(record.error());
  if (events_ == nullptr) return error_response(service_error("This emberd has no event queue"));
  const int64_t now = unix_now_ms();
  auto stats = events_->stats(record->name, now);
  if (!stats.ok()) return error_response(internal_error("read async queue", stats.error()));
  auto history = events_->history(record->name, EventQueue::kHistoryPerFunction);
  if (!history.ok()) return error_response(internal_error("read async history", history.error()));
  nlohmann::json recent = nlohmann::json::array();
  for (const EventHistoryEntry& entry : history.value()) {
    recent.push_back({{"RequestId", entry.request_id},
                      {"Fate", event_fate_name(entry.fate)},
                      {"Attempts", entry.attempts},
                      {"Accepted", lambda_timestamp(entry.accepted_ms)},
                      {"Finished", lambda_timestamp(entry.finished_ms)},
                      {"AcceptedMs", entry.accepted_ms},
                      {"HandlerStartedMs", entry.handler_started_ms},
                      {"Detail", entry.detail}});
  }
  return json_response(200, {{"FunctionName", record->name},
                             {"Depth", stats->depth},
                             {"OldestAgeMs", stats->oldest_age_ms},
                             {"InFlight", stats->in_flight},
                             {"WaitingRetry", stats->waiting_retry},
                             {"Recent", recent}});
}

}  // namespace ember::host
