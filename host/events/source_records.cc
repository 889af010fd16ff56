// Kinesis- and SQS-shaped records for Redis sources, batch responses and failure records.
#include "host/events/source_records.h"

#include <openssl/evp.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "common/utc_time.h"
#include "host/store/encoding.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr char kEventSource[] = "ember:redis";
constexpr char kShardId[] = "shardId-000000000000";

// JSON text holds only UTF-8: nlohmann replaces each bad byte with U+FFFD when dumping.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The text with every byte that is not part of valid UTF-8 replaced by U+FFFD.
std::string valid_utf8(const std::string& text) {
  return json::parse(dump(json(text))).get<std::string>();
}

std::string md5_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_md5(), nullptr) != 1) {
    // MD5 is in OpenSSL's default provider; without it no SQS record can be made.
    std::fputs("source_records: EVP_Digest(MD5) failed\n", stderr);
    std::abort();
  }
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

}  // namespace

int64_t entry_arrival_ms(const std::string& id) {
  int64_t ms = 0;
  const auto [ptr, ec] = std::from_chars(id.data(), id.data() + id.size(), ms);
  if (ec != std::errc() || ptr == id.data() || ms < 0) return 0;
  return ms;
}

std::string iso_time_ms(int64_t unix_ms) { return iso8601_utc(unix_ms); }

std::string entry_payload(const SourceEntry& entry) {
  if (entry.fields.size() == 1 && entry.fields[0].first == "data") return entry.fields[0].second;
  // Members come out sorted by name (nlohmann's objects are ordered maps), whatever order
  // XADD had them in.
  json object = json::object();
  for (const auto& [name, value] : entry.fields) object[name] = value;
  return dump(object);
}

json stream_record(const SourceEntry& entry, const std::string& source_arn, const std::string& key,
                   const std::string& region) {
  const int64_t arrival_ms = entry_arrival_ms(entry.id);
  return {
      {"kinesis",
       {{"kinesisSchemaVersion", "1.0"},
        {"partitionKey", key},
        {"sequenceNumber", entry.id},
        {"data", base64_encode(entry_payload(entry))},
        {"approximateArrivalTimestamp", static_cast<double>(arrival_ms) / 1000.0}}},
      {"eventSource", kEventSource},
      {"eventVersion", "1.0"},
      {"eventID", std::string(kShardId) + ":" + entry.id},
      {"eventName", "ember:redis:record"},
      {"invokeIdentityArn", ""},
      {"awsRegion", region},
      {"eventSourceARN", source_arn},
  };
}

json queue_record(const SourceEntry& entry, const std::string& source_arn,
                  const std::string& region) {
  const int64_t sent_ms = entry_arrival_ms(entry.id);
  const int64_t first_receive_ms = entry.first_receive_ms > 0 ? entry.first_receive_ms : sent_ms;
  std::string body = valid_utf8(entry_payload(entry));
  const std::string md5 = md5_hex(body);
  return {
      {"messageId", entry.id},
      {"receiptHandle", entry.id},
      {"body", std::move(body)},
      {"attributes",
       {{"ApproximateReceiveCount", std::to_string(std::max<int64_t>(entry.receive_count, 1))},
        {"SentTimestamp", std::to_string(sent_ms)},
        {"SenderId", "ember"},
        {"ApproximateFirstReceiveTimestamp", std::to_string(first_receive_ms)}}},
      {"messageAttributes", json::object()},
      {"md5OfBody", md5},
      {"eventSource", kEventSource},
      {"eventSourceARN", source_arn},
      {"awsRegion", region},
  };
}

std::string batch_event(const std::vector<json>& records) {
  return dump(json{{"Records", records}});
}

std::optional<std::vector<std::string>> batch_item_failures(
    const std::string& response, const std::vector<std::string>& batch_ids) {
  const bool blank = std::all_of(response.begin(), response.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  });
  if (blank) return std::vector<std::string>{};
  const json parsed = json::parse(response, nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  if (parsed.is_null()) return std::vector<std::string>{};
  if (!parsed.is_object()) return std::nullopt;
  const auto list = parsed.find("batchItemFailures");
  if (list == parsed.end() || list->is_null()) return std::vector<std::string>{};
  if (!list->is_array()) return std::nullopt;

  std::vector<bool> failed(batch_ids.size(), false);
  for (const json& item : *list) {
    if (!item.is_object()) return std::nullopt;
    const auto identifier = item.find("itemIdentifier");
    if (identifier == item.end() || !identifier->is_string()) return std::nullopt;
    const auto& id = identifier->get_ref<const std::string&>();
    if (id.empty()) return std::nullopt;
    const auto at = std::find(batch_ids.begin(), batch_ids.end(), id);
    if (at == batch_ids.end()) return std::nullopt;
    failed[static_cast<size_t>(at - batch_ids.begin())] = true;
  }
  std::vector<std::string> ids;
  for (size_t i = 0; i < batch_ids.size(); ++i) {
    if (failed[i]) ids.push_back(batch_ids[i]);
  }
  return ids;
}

std::string failed_batch_record(const FailedBatch& batch) {
  json response = {{"statusCode", batch.status_code}, {"executedVersion", "$LATEST"}};
  if (!batch.function_error.empty()) response["functionError"] = batch.function_error;
  return dump({
      {"requestContext",
       {{"requestId", batch.request_id},
        {"functionArn", batch.function_arn},
        {"condition", batch.condition},
        {"approximateInvokeCount", batch.attempts}}},
      {"responseContext", response},
      {"version", "1.0"},
      {"timestamp", iso_time_ms(batch.now_ms)},
      {"RedisStreamBatchInfo",
       {{"shardId", kShardId},
        {"startSequenceNumber", batch.first_id},
        {"endSequenceNumber", batch.last_id},
        {"approximateArrivalOfFirstRecord", iso_time_ms(entry_arrival_ms(batch.first_id))},
        {"approximateArrivalOfLastRecord", iso_time_ms(entry_arrival_ms(batch.last_id))},
        {"batchSize", batch.count},
        {"streamArn", batch.source_arn},
        {"key", batch.key}}},
  });
}

}  // namespace ember::host
