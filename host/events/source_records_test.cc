// Tests for Redis source records: payloads, Kinesis and SQS shapes, failures, OnFailure.
#include "host/events/source_records.h"

#include <gtest/gtest.h>

#include "host/events/filter_pattern.h"
#include "host/store/encoding.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr char kStreamArn[] = "arn:ember:redis:::main/stream/orders";
constexpr char kQueueArn[] = "arn:ember:redis:::main/queue/jobs";

SourceEntry entry(std::string id, std::vector<std::pair<std::string, std::string>> fields) {
  SourceEntry e;
  e.id = std::move(id);
  e.fields = std::move(fields);
  return e;
}

TEST(SourceRecordsTest, ArrivalTimeIsTheIdsTimePart) {
  EXPECT_EQ(entry_arrival_ms("1700000000123-7"), 1700000000123);
  EXPECT_EQ(entry_arrival_ms("1700000000123"), 1700000000123);
  EXPECT_EQ(entry_arrival_ms("garbage"), 0);
  EXPECT_EQ(entry_arrival_ms(""), 0);
  EXPECT_EQ(iso_time_ms(1700000000123), "2023-11-14T22:13:20.123Z");
}

TEST(SourceRecordsTest, PayloadOfASingleDataFieldIsVerbatim) {
  const std::string binary("\x00\x01\xff raw", 7);
  EXPECT_EQ(entry_payload(entry("1-0", {{"data", binary}})), binary);
  EXPECT_EQ(entry_payload(entry("1-0", {{"data", "{\"a\":1}"}})), "{\"a\":1}");
}

TEST(SourceRecordsTest, PayloadOfOtherEntriesIsAnObjectOfTheirFields) {
  EXPECT_EQ(entry_payload(entry("1-0", {{"b", "2"}, {"a", "1"}, {"b", "3"}})),
            R"({"a":"1","b":"3"})");
  EXPECT_EQ(entry_payload(entry("1-0", {{"value", "x"}})), R"({"value":"x"})");
  EXPECT_EQ(entry_payload(entry("1-0", {{"data", "x"}, {"more", "y"}})),
            R"({"data":"x","more":"y"})");
  EXPECT_EQ(entry_payload(entry("1-0", {})), "{}");
  // Bytes that are not UTF-8 can't be JSON text: replaced with U+FFFD.
  EXPECT_EQ(entry_payload(entry("1-0", {{"k", "a\xff"}, {"j", "1"}})),
            "{\"j\":\"1\",\"k\":\"a\xEF\xBF\xBD\"}");
}

TEST(SourceRecordsTest, StreamRecordHasKinesisShape) {
  const json r =
      stream_record(entry("1700000000123-4", {{"data", "hello"}}), kStreamArn, "orders", "local");
  const json &k = r["kinesis"];
  EXPECT_EQ(k["kinesisSchemaVersion"], "1.0");
  EXPECT_EQ(k["partitionKey"], "orders");
  EXPECT_EQ(k["sequenceNumber"], "1700000000123-4");
  EXPECT_EQ(k["data"], base64_encode("hello"));
  ASSERT_TRUE(k["approximateArrivalTimestamp"].is_number_float());
  EXPECT_DOUBLE_EQ(k["approximateArrivalTimestamp"].get<double>(), 1700000000.123);
  EXPECT_EQ(r["eventSource"], "ember:redis");
  EXPECT_EQ(r["eventVersion"], "1.0");
  EXPECT_EQ(r["eventID"], "shardId-000000000000:1700000000123-4");
  EXPECT_EQ(r["eventName"], "ember:redis:record");
  EXPECT_EQ(r["invokeIdentityArn"], "");
  EXPECT_EQ(r["awsRegion"], "local");
  EXPECT_EQ(r["eventSourceARN"], kStreamArn);
  EXPECT_EQ(r.size(), 8u);
  EXPECT_NE(r.dump().find("\"approximateArrivalTimestamp\":1700000000.123"), std::string::npos);
}

TEST(SourceRecordsTest, StreamRecordCarriesBinaryAndMultiFieldPayloads) {
  const std::string binary("\x00\x80\xff", 3);
  const json raw = stream_record(entry("5-0", {{"data", binary}}), kStreamArn, "k", "r");
  EXPECT_EQ(base64_decode(raw["kinesis"]["data"].get<std::string>()), binary);
  const json fields =
      stream_record(entry("5-1", {{"user", "ann"}, {"n", "2"}}), kStreamArn, "k", "r");
  EXPECT_EQ(base64_decode(fields["kinesis"]["data"].get<std::string>()),
            R"({"n":"2","user":"ann"})");
  // ...which filters see as JSON under "data".
  const json view = filterable_view(fields, SourceKind::kStream);
  EXPECT_TRUE(FilterPattern::parse(R"({"data":{"user":["ann"]}})")->matches(view));
}

TEST(SourceRecordsTest, QueueRecordHasSqsShape) {
  SourceEntry e = entry("1700000000123-0", {{"data", "hello"}});
  e.receive_count = 3;
  const json r = queue_record(e, kQueueArn, "local");
  EXPECT_EQ(r["messageId"], "1700000000123-0");
  EXPECT_EQ(r["receiptHandle"], "1700000000123-0");
  EXPECT_EQ(r["body"], "hello");
  EXPECT_EQ(r["attributes"]["ApproximateReceiveCount"], "3");
  EXPECT_EQ(r["attributes"]["SentTimestamp"], "1700000000123");
  EXPECT_EQ(r["attributes"]["SenderId"], "ember");
  EXPECT_EQ(r["attributes"]["ApproximateFirstReceiveTimestamp"], "1700000000123");
  EXPECT_EQ(r["messageAttributes"], json::object());
  EXPECT_EQ(r["md5OfBody"], "5d41402abc4b2a76b9719d911017c592");  // md5("hello")
  EXPECT_EQ(r["eventSource"], "ember:redis");
  EXPECT_EQ(r["eventSourceARN"], kQueueArn);
  EXPECT_EQ(r["awsRegion"], "local");
  EXPECT_EQ(r.size(), 9u);

  e.first_receive_ms = 1700000009999;
  EXPECT_EQ(queue_record(e, kQueueArn, "local")["attributes"]["ApproximateFirstReceiveTimestamp"],
            "1700000009999");
}

TEST(SourceRecordsTest, QueueRecordOfFieldsAndOfBinary) {
  const json fields = queue_record(entry("2-0", {{"job", "resize"}, {"w", "64"}}), kQueueArn, "r");
  EXPECT_EQ(fields["body"], R"({"job":"resize","w":"64"})");
  EXPECT_TRUE(FilterPattern::parse(R"({"body":{"job":["resize"]}})")
                  ->matches(filterable_view(fields, SourceKind::kQueue)));
  // Not UTF-8: the body becomes text, and md5OfBody is of what the function gets.
  const json binary =
      queue_record(entry("2-1", {{"data", std::string("a\xff", 2)}}), kQueueArn, "r");
  EXPECT_EQ(binary["body"], "a\xEF\xBF\xBD");
  EXPECT_EQ(binary["md5OfBody"],
            "ef175e9b596d296034dda690087252f8");  // md5 of "a" U+FFFD in UTF-8
}

TEST(SourceRecordsTest, BatchEventWrapsRecords) {
  const std::vector<json> records = {queue_record(entry("1-0", {{"data", "x"}}), kQueueArn, "r"),
                                     queue_record(entry("2-0", {{"data", "y"}}), kQueueArn, "r")};
  const json event = json::parse(batch_event(records));
  ASSERT_EQ(event["Records"].size(), 2u);
  EXPECT_EQ(event["Records"][1]["body"], "y");
  EXPECT_EQ(event.size(), 1u);
  EXPECT_EQ(json::parse(batch_event({}))["Records"], json::array());
}

TEST(BatchItemFailuresTest, SuccessResponses) {
  const std::vector<std::string> ids = {"1-0", "2-0", "3-0"};
  for (const char *response : {"", "  \n", "null", "{}", R"({"statusCode":200})",
                               R"({"batchItemFailures":null})", R"({"batchItemFailures":[]})"}) {
    const auto failed = batch_item_failures(response, ids);
    ASSERT_TRUE(failed.has_value()) << response;
    EXPECT_TRUE(failed->empty()) << response;
  }
}

TEST(BatchItemFailuresTest, NamedItemsInBatchOrderWithoutRepeats) {
  const std::vector<std::string> ids = {"1-0", "2-0", "3-0"};
  const auto failed = batch_item_failures(
      R"({"batchItemFailures":[{"itemIdentifier":"3-0"},{"itemIdentifier":"1-0"},
          {"itemIdentifier":"3-0"}]})",
      ids);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(*failed, (std::vector<std::string>{"1-0", "3-0"}));
}

TEST(BatchItemFailuresTest, WholeBatchFailures) {
  const std::vector<std::string> ids = {"1-0", "2-0"};
  for (const char *response : {
           "not json",
           "{\"batchItemFailures\":",
           "\"ok\"",
           "42",
           "[]",
           R"({"batchItemFailures":"1-0"})",
           R"({"batchItemFailures":["1-0"]})",
           R"({"batchItemFailures":[{}]})",
           R"({"batchItemFailures":[{"itemIdentifier":null}]})",
           R"({"batchItemFailures":[{"itemIdentifier":""}]})",
           R"({"batchItemFailures":[{"itemIdentifier":12}]})",
           R"({"batchItemFailures":[{"itemidentifier":"1-0"}]})",
           R"({"batchItemFailures":[{"itemIdentifier":"1-0"},{"itemIdentifier":"9-0"}]})",
       }) {
    EXPECT_FALSE(batch_item_failures(response, ids).has_value()) << response;
  }
}

TEST(FailedBatchRecordTest, FollowsKinesisFailureRecord) {
  FailedBatch batch;
  batch.request_id = "c9b8fa9f-5a7f-4d2b-af9c-0c604cde93a5";
  batch.function_arn = "arn:aws:lambda:local:000000000000:function:f";
  batch.condition = "RetryAttemptsExhausted";
  batch.function_error = "Unhandled";
  batch.attempts = 3;
  batch.source_arn = kStreamArn;
  batch.key = "orders";
  batch.first_id = "1700000000123-0";
  batch.last_id = "1700000001456-2";
  batch.count = 7;
  batch.now_ms = 1700000002000;
  const json r = json::parse(failed_batch_record(batch));
  EXPECT_EQ(r["requestContext"], json({{"requestId", batch.request_id},
                                       {"functionArn", batch.function_arn},
                                       {"condition", "RetryAttemptsExhausted"},
                                       {"approximateInvokeCount", 3}}));
  EXPECT_EQ(
      r["responseContext"],
      json({{"statusCode", 200}, {"executedVersion", "$LATEST"}, {"functionError", "Unhandled"}}));
  EXPECT_EQ(r["version"], "1.0");
  EXPECT_EQ(r["timestamp"], "2023-11-14T22:13:22.000Z");
  const json &info = r["RedisStreamBatchInfo"];
  EXPECT_EQ(info["shardId"], "shardId-000000000000");
  EXPECT_EQ(info["startSequenceNumber"], "1700000000123-0");
  EXPECT_EQ(info["endSequenceNumber"], "1700000001456-2");
  EXPECT_EQ(info["approximateArrivalOfFirstRecord"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(info["approximateArrivalOfLastRecord"], "2023-11-14T22:13:21.456Z");
  EXPECT_EQ(info["batchSize"], 7);
  EXPECT_EQ(info["streamArn"], kStreamArn);
  EXPECT_EQ(info["key"], "orders");
  EXPECT_FALSE(r.contains("KinesisBatchInfo"));
}

TEST(FailedBatchRecordTest, NoFunctionErrorWhenTheRecordsAged) {
  FailedBatch batch;
  batch.condition = "RecordAgeExceeded";
  batch.first_id = batch.last_id = "1000-0";
  batch.count = 1;
  const json r = json::parse(failed_batch_record(batch));
  EXPECT_EQ(r["requestContext"]["condition"], "RecordAgeExceeded");
  EXPECT_FALSE(r["responseContext"].contains("functionError"));
  EXPECT_EQ(r["RedisStreamBatchInfo"]["approximateArrivalOfFirstRecord"],
            "1970-01-01T00:00:01.000Z");
}

}  // namespace
}  // namespace ember::host
