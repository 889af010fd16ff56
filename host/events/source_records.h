// What functions get from Redis sources: Kinesis/SQS-shaped records, batches, failure records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ember::host {

// arn:ember:redis:::SERVER/stream/KEY is processed like Kinesis, .../queue/KEY like SQS.
enum class SourceKind { kStream, kQueue };

// One Redis stream entry, as XREADGROUP / XCLAIM return it.
struct SourceEntry {
  std::string id;  // "1700000000000-0": its time part is the arrival time, Unix ms
  std::vector<std::pair<std::string, std::string>> fields;
  int64_t receive_count = 1;     // queue: deliveries so far (XPENDING), ApproximateReceiveCount
  int64_t first_receive_ms = 0;  // queue: first delivery, Unix ms; 0 means the arrival time
};

// The time part of an entry id, Unix ms; 0 when the id has no leading number.
int64_t entry_arrival_ms(const std::string& id);

// An entry's payload: the value of a single field named "data", verbatim (any bytes); any
// other entry (several fields, one not named "data", or none) a compact JSON object of its
// field/value pairs, members sorted by name, later fields winning on repeats, bytes that are
// not UTF-8 replaced by U+FFFD.
std::string entry_payload(const SourceEntry& entry);

// Kinesis's record shape: {"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":KEY,
// "sequenceNumber":id,"data":base64(payload),"approximateArrivalTimestamp":seconds (a
// double, ms precision)},"eventSource":"ember:redis","eventVersion":"1.0",
// "eventID":"shardId-000000000000:"+id,"eventName":"ember:redis:record",
// "invokeIdentityArn":"","awsRegion":REGION,"eventSourceARN":ARN}. A Redis stream is one
// shard, so every record names shardId-000000000000.
nlohmann::json stream_record(const SourceEntry& entry, const std::string& source_arn,
                             const std::string& key, const std::string& region);

// SQS's record shape: {"messageId":id,"receiptHandle":id,"body":payload,"attributes":{
// "ApproximateReceiveCount":"N","SentTimestamp":"ms","SenderId":"ember",
// "ApproximateFirstReceiveTimestamp":"ms"},"messageAttributes":{},"md5OfBody":md5hex(body),
// "eventSource":"ember:redis","eventSourceARN":ARN,"awsRegion":REGION}. SQS bodies are text:
// a payload that is not UTF-8 has its bad bytes replaced by U+FFFD, and md5OfBody is the MD5
// of the body as the function sees it.
nlohmann::json queue_record(const SourceEntry& entry, const std::string& source_arn,
                            const std::string& region);

// The event for one batch: {"Records":[...]}, compact.
std::string batch_event(const std::vector<nlohmann::json>& records);

// The records a ReportBatchItemFailures response names (the itemIdentifier values of
// {"batchItemFailures":[{"itemIdentifier":...}]}), in batch order without repeats, or
// nullopt when the whole batch failed. Lambda's rules: an empty or null response, {} or an
// object without batchItemFailures, a null or empty list: all succeeded (an empty vector).
// The whole batch failed when the response is not JSON or not an object, batchItemFailures
// is not a list, an item is not an object, or an itemIdentifier is missing, null, not a
// string, empty, or not an id of this batch. For streams the identifier is the
// sequenceNumber, for queues the messageId: both are the entry id.
std::optional<std::vector<std::string>> batch_item_failures(
    const std::string& response, const std::vector<std::string>& batch_ids);

// A stream batch that is given up on. condition is Lambda's: "RetryAttemptsExhausted",
// "RecordAgeExceeded" (MaximumRecordAgeInSeconds) or "MaximumPayloadSizeExceeded".
struct FailedBatch {
  std::string request_id;    // the last invocation's request id
  std::string function_arn;  // the function, as requestContext.functionArn
  std::string condition;
  std::string function_error;     // "Unhandled" after a function error, "" otherwise
  int attempts = 0;               // invocations so far (approximateInvokeCount)
  int status_code = 200;          // the last invocation's status
  std::string source_arn;         // arn:ember:redis:::SERVER/stream/KEY
  std::string key;                // the stream's key
  std::string first_id, last_id;  // the batch's first and last entry ids
  size_t count = 0;               // records in the batch
  int64_t now_ms = 0;
};

// What OnFailure receives about a failed stream batch: Lambda's Kinesis failure record with
// the batch's block named RedisStreamBatchInfo instead of KinesisBatchInfo, compact:
// {"requestContext":{"requestId","functionArn","condition","approximateInvokeCount"},
//  "responseContext":{"statusCode","executedVersion":"$LATEST","functionError" (only after a
//  function error)},"version":"1.0","timestamp":"2026-01-02T03:04:05.678Z",
//  "RedisStreamBatchInfo":{"shardId":"shardId-000000000000","startSequenceNumber":first id,
//  "endSequenceNumber":last id,"approximateArrivalOfFirstRecord":ISO time of the first id,
//  "approximateArrivalOfLastRecord":ISO time of the last id,"batchSize":count,
//  "streamArn":source ARN,"key":the stream's key}}.
// Like Kinesis's, it carries no records: read them back with XRANGE key first_id last_id.
// A queue record given up on is sent to OnFailure as the SQS-shaped record itself, the way
// Lambda moves a failed SQS message to its dead-letter queue.
std::string failed_batch_record(const FailedBatch& batch);

// "2026-01-02T03:04:05.678Z".
std::string iso_time_ms(int64_t unix_ms);

}  // namespace ember::host
