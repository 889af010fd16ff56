// Tests for the human-readable output: function details, lists, timing, errors.
#include "host/cli/output.h"

#include <gtest/gtest.h>

namespace ember::cli {
namespace {

using nlohmann::json;

const json kConfig = json::parse(R"({
  "FunctionName": "hello", "FunctionArn": "arn:aws:lambda:local:000000000000:function:hello",
  "Runtime": "python3.11", "Handler": "app.handler", "MemorySize": 256, "Timeout": 30,
  "EphemeralStorage": {"Size": 512}, "CodeSize": 1234, "Description": "",
  "Role": "arn:aws:iam::000000000000:role/ember", "State": "Active",
  "LastModified": "2024-05-01T10:00:00.000+0000",
  "Environment": {"Variables": {"B": "2", "A": "1"}}})");

TEST(OutputTest, FormatsAFunctionAsAlignedLines) {
  const std::string expected =
      "Name:          hello\n"
      "ARN:           arn:aws:lambda:local:000000000000:function:hello\n"
      "Runtime:       python3.11\n"
      "Handler:       app.handler\n"
      "Memory:        256 MB\n"
      "Timeout:       30 s\n"
      "/tmp:          512 MB\n"
      "Code size:     1234 bytes\n"
      "Role:          arn:aws:iam::000000000000:role/ember\n"
      "State:         Active\n"
      "Last modified: 2024-05-01T10:00:00.000+0000\n"
      "Environment:   A=1\n"
      "               B=2\n";
  EXPECT_EQ(format_function(kConfig), expected);
  // GetFunction wraps the configuration; the same lines come out.
  EXPECT_EQ(format_function(json{{"Configuration", kConfig}, {"Code", {{"Location", "x"}}}}),
            expected);
}

TEST(OutputTest, LeavesOutWhatIsMissing) {
  EXPECT_EQ(format_function(json{{"FunctionName", "f"}, {"Timeout", 3}, {"Runtime", nullptr}}),
            "Name:    f\nTimeout: 3 s\n");
}

TEST(OutputTest, FormatsAListAsATable) {
  json other = {{"FunctionName", "a-much-longer-name"},
                {"Runtime", "nodejs18.x"},
                {"Handler", "index.handler"},
                {"MemorySize", 1024},
                {"Timeout", 900}};
  EXPECT_EQ(format_function_list({kConfig, other}),
            "NAME                RUNTIME     HANDLER        MEMORY   TIMEOUT  LAST MODIFIED\n"
            "hello               python3.11  app.handler    256 MB   30 s     "
            "2024-05-01T10:00:00.000+0000\n"
            "a-much-longer-name  nodejs18.x  index.handler  1024 MB  900 s\n");
  EXPECT_EQ(format_function_list({}), "No functions.\n");
}

TEST(OutputTest, FormatsTiming) {
  EXPECT_EQ(
      format_timing("start=cold;queue=0.1;restore=12.5;boot=0;init=40.2;handler=3.0;total=56.1"),
      "timing: cold start, total 56.1 ms (queue 0.1 ms, restore 12.5 ms, boot 0 ms, "
      "init 40.2 ms, handler 3.0 ms)");
  EXPECT_EQ(format_timing("start=warm; handler=1.5 ;total=2"),
            "timing: warm start, total 2 ms (handler 1.5 ms)");
  EXPECT_EQ(format_timing("start=cold;pool=1;queue=0.3;restore=150;handler=2;total=3"),
            "timing: cold start from the pool, total 3 ms (queue 0.3 ms, restore 150 ms, "
            "handler 2 ms)");
  EXPECT_EQ(format_timing("total=7"), "timing: total 7 ms");
  EXPECT_EQ(format_timing("garbage"), "timing: emberd sent no timing breakdown");
}

TEST(OutputTest, FormatsDurationsInAHumanUnit) {
  EXPECT_EQ(format_duration_ms(0), "0 ms");
  EXPECT_EQ(format_duration_ms(999), "999 ms");
  EXPECT_EQ(format_duration_ms(1000), "1.0 s");
  EXPECT_EQ(format_duration_ms(1520), "1.5 s");
  EXPECT_EQ(format_duration_ms(59999), "59.9 s");  // truncated: never "60.0 s"
  EXPECT_EQ(format_duration_ms(60000), "1 min");
  EXPECT_EQ(format_duration_ms(182500), "3 min 2 s");
  EXPECT_EQ(format_duration_ms(3600000), "1 h");
  EXPECT_EQ(format_duration_ms(7500000), "2 h 5 min");
  EXPECT_EQ(format_duration_ms(3 * 86400000LL + 4 * 3600000LL + 59000), "3 d 4 h");
  EXPECT_EQ(format_duration_ms(-5), "0 ms");  // a clock step back is not a negative age
}

const json kQueue = json::parse(R"({"FunctionName": "f", "Depth": 3, "OldestAgeMs": 1520,
  "InFlight": 1, "WaitingRetry": 1, "Recent": [
  {"RequestId": "7d3f0c1e-2b6a-4f1e-9d55-0a8b7c6d5e4f", "Fate": "RetriesExhausted",
   "Attempts": 3, "Accepted": "2026-12-01T10:00:00.000+0000",
   "Finished": "2026-12-01T10:03:01.000+0000", "Detail": "Runtime.Unknown"},
  {"RequestId": "r2", "Fate": "Success", "Attempts": 1, "Accepted": "2026-12-01T09:59:58.250+0000",
   "Finished": "2026-12-01T09:59:59.000+0000", "Detail": ""}]})");

TEST(OutputTest, FormatsTheQueueAndItsRecentEvents) {
  EXPECT_EQ(
      format_queue(kQueue),
      "Function:            f\n"
      "Depth:               3\n"
      "Oldest event:        1.5 s old\n"
      "In flight:           1\n"
      "Waiting for a retry: 1\n"
      "\n"
      "Recently finished events, newest first:\n"
      "REQUEST ID                            FATE              ATTEMPTS  ACCEPTED (UTC)       "
      "FINISHED (UTC)       DETAIL\n"
      "7d3f0c1e-2b6a-4f1e-9d55-0a8b7c6d5e4f  RetriesExhausted  3         2026-12-01 10:00:00  "
      "2026-12-01 10:03:01  Runtime.Unknown\n"
      "r2                                    Success           1         2026-12-01 09:59:58  "
      "2026-12-01 09:59:59\n");
}

TEST(OutputTest, FormatsAnEmptyQueue) {
  EXPECT_EQ(format_queue(json::parse(R"({"FunctionName": "f", "Depth": 0, "OldestAgeMs": 0,
                                         "InFlight": 0, "WaitingRetry": 0, "Recent": []})")),
            "Function:            f\n"
            "Depth:               0\n"
            "Oldest event:        none, the queue is empty\n"
            "In flight:           0\n"
            "Waiting for a retry: 0\n"
            "\n"
            "No recently finished events.\n");
  // Fields emberd did not send are left out; a timestamp not in Lambda's form stays as it is.
  const std::string partial = format_queue(json::parse(
      R"({"Depth": 2, "Recent": [{"RequestId": "r", "Accepted": "yesterday", "Detail": "a\nb"}]})"));
  EXPECT_EQ(partial.rfind("Depth: 2\n\nRecently finished", 0), 0u) << partial;
  EXPECT_NE(partial.find("\nr" + std::string(27, ' ') + "yesterday" + std::string(23, ' ') + "a\n"),
            std::string::npos)
      << partial;
}

// A stream mapping as emberd answers it, with the status route's figures under "Status".
const json kStreamMapping = json::parse(R"({
  "UUID": "6d1c2a3b-0000-4000-8000-00000000000a",
  "EventSourceMappingArn":
    "arn:aws:lambda:local:000000000000:event-source-mapping:6d1c2a3b-0000-4000-8000-00000000000a",
  "EventSourceArn": "arn:ember:redis:::main/stream/orders",
  "FunctionArn": "arn:aws:lambda:local:000000000000:function:hello",
  "BatchSize": 100, "MaximumBatchingWindowInSeconds": 0, "LastModified": 1796119200.5,
  "LastProcessingResult": "OK", "State": "Enabled", "StateTransitionReason": "USER_INITIATED",
  "FunctionResponseTypes": ["ReportBatchItemFailures"],
  "FilterCriteria": {"Filters": [{"Pattern": "{\"data\":{\"kind\":[\"order\"]}}"},
                                 {"Pattern": "{\"data\":{\"kind\":[\"refund\"]}}"}]},
  "StartingPosition": "TRIM_HORIZON", "ParallelizationFactor": 1, "MaximumRetryAttempts": -1,
  "MaximumRecordAgeInSeconds": 3600, "BisectBatchOnFunctionError": true,
  "TumblingWindowInSeconds": 0,
  "DestinationConfig": {"OnFailure": {"Destination": "arn:ember:redis:::main/stream/failed"}},
  "Status": {"UUID": "6d1c2a3b-0000-4000-8000-00000000000a", "FunctionName": "hello",
             "EventSourceArn": "arn:ember:redis:::main/stream/orders", "State": "Enabled",
             "LastProcessingResult": "OK", "Lag": 12, "BatchesInFlight": 1, "Records": 1000,
             "RecordsPerSecond": 8.5}})");

// A queue mapping no poller runs: no figures, the queue's settings only.
const json kQueueMapping = json::parse(R"({
  "UUID": "u2", "EventSourceArn": "arn:ember:redis:::main/queue/jobs",
  "FunctionArn": "arn:aws:lambda:local:000000000000:function:worker:live",
  "BatchSize": 10, "MaximumBatchingWindowInSeconds": 5, "State": "Disabled",
  "LastProcessingResult": "PROBLEM: Redis server 'main' at redis://127.0.0.1:6390/0 is unreachable: Connection refused",
  "FunctionResponseTypes": [], "ScalingConfig": {"MaximumConcurrency": 5},
  "Status": {"UUID": "u2", "FunctionName": "worker", "State": "Disabled",
             "LastProcessingResult": "No records processed"}})");

TEST(OutputTest, FormatsMappingsAsATable) {
  json unknown_lag = kStreamMapping;
  unknown_lag["UUID"] = "u3";
  unknown_lag["Status"]["Lag"] = -1;
  unknown_lag["Status"]["RecordsPerSecond"] = 0;
  json no_status = kQueueMapping;  // the status could not be had: the mapping's own fields
  no_status.erase("Status");
  no_status["UUID"] = "u4";
  EXPECT_EQ(
      format_mapping_list({kStreamMapping, kQueueMapping, unknown_lag, no_status}),
      "UUID                                  FUNCTION  SOURCE                                "
      "STATE     LAST RESULT                                          LAG      IN FLIGHT  "
      "RECORDS/S\n"
      "6d1c2a3b-0000-4000-8000-00000000000a  hello     arn:ember:redis:::main/stream/orders  "
      "Enabled   OK                                                   12       1          8.5\n"
      "u2                                    worker    arn:ember:redis:::main/queue/jobs     "
      "Disabled  No records processed                                 -        -          -\n"
      "u3                                    hello     arn:ember:redis:::main/stream/orders  "
      "Enabled   OK                                                   unknown  1          0.0\n"
      "u4                                    worker    arn:ember:redis:::main/queue/jobs     "
      "Disabled  PROBLEM: Redis server 'main' at redis://127.0.0....  -        -          -\n");
  EXPECT_EQ(format_mapping_list({}), "No event source mappings.\n");
}

TEST(OutputTest, FormatsOneMappingWithItsFigures) {
  EXPECT_EQ(format_mapping(kStreamMapping),
            "UUID:               6d1c2a3b-0000-4000-8000-00000000000a\n"
            "ARN:                arn:aws:lambda:local:000000000000:event-source-mapping:"
            "6d1c2a3b-0000-4000-8000-00000000000a\n"
            "Function:           arn:aws:lambda:local:000000000000:function:hello\n"
            "Source:             arn:ember:redis:::main/stream/orders\n"
            "State:              Enabled\n"
            "State reason:       USER_INITIATED\n"
            "Last result:        OK\n"
            "Last modified:      2026-12-01 10:00:00 UTC\n"
            "Batch size:         100\n"
            "Batching window:    0 s\n"
            "Starting position:  TRIM_HORIZON\n"
            "Response types:     ReportBatchItemFailures\n"
            "Max retry attempts: -1 (no limit)\n"
            "Max record age:     3600 s\n"
            "Bisect on error:    true\n"
            "Parallelization:    1\n"
            "Tumbling window:    0 s\n"
            "On failure:         arn:ember:redis:::main/stream/failed\n"
            "Filters:            {\"data\":{\"kind\":[\"order\"]}}\n"
            "                    {\"data\":{\"kind\":[\"refund\"]}}\n"
            "Lag:                12 entries not yet acknowledged\n"
            "In flight:          1 batch\n"
            "Records:            1000 since the poller started\n"
            "Records/s:          8.5 (average since the poller started)\n");
}

TEST(OutputTest, FormatsAMappingWithoutFiguresAndWithFieldsItDoesNotKnow) {
  json m = kQueueMapping;
  m["KafkaTopic"] = "new-field";
  m["MetricsConfig"] = {{"Metrics", {"EventCount"}}};
  m["Status"]["Lag"] = -1;
  const std::string out = format_mapping(m);
  EXPECT_EQ(out,
            "UUID:            u2\n"
            "Function:        arn:aws:lambda:local:000000000000:function:worker:live\n"
            "Source:          arn:ember:redis:::main/queue/jobs\n"
            "State:           Disabled\n"
            "Last result:     No records processed\n"
            "Batch size:      10\n"
            "Batching window: 5 s\n"
            "Max concurrency: 5\n"
            "KafkaTopic:      new-field\n"
            "MetricsConfig:   {\"Metrics\":[\"EventCount\"]}\n"
            "Lag:             unknown\n"
            "In flight:       -\n"
            "Records:         -\n"
            "Records/s:       -\n");
  json two = kStreamMapping;
  two["Status"]["BatchesInFlight"] = 2;
  EXPECT_NE(format_mapping(two).find("\nIn flight:          2 batches\n"), std::string::npos);
}

TEST(OutputTest, ReadsLambdaErrors) {
  HttpResponse r;
  r.status = 404;
  r.headers = {{"X-Amzn-ErrorType", "ResourceNotFoundException:http://internal.amazon.com/"}};
  r.body = R"({"Type":"User","Message":"Function not found: hello"})";
  ApiError e = api_error(r);
  EXPECT_EQ(e.type, "ResourceNotFoundException");
  EXPECT_EQ(format_api_error(e), "ember: ResourceNotFoundException: Function not found: hello");

  r.headers.clear();  // no header: the body's Type, and "message" in lower case
  r.body = R"({"Type":"InvalidParameterValueException","message":"MemorySize too small"})";
  EXPECT_EQ(format_api_error(api_error(r)),
            "ember: InvalidParameterValueException: MemorySize too small");

  r.headers = {{"x-amzn-ErrorType", "ServiceException"}};
  r.body = "";
  EXPECT_EQ(format_api_error(api_error(r)), "ember: ServiceException");
}

TEST(OutputTest, ExplainsNonLambdaErrors) {
  HttpResponse r;
  r.status = 502;
  r.reason = "Bad Gateway";
  r.body = "upstream went away\nsecond line";
  EXPECT_EQ(format_api_error(api_error(r)), "ember: HTTP 502 Bad Gateway: upstream went away");
}

TEST(OutputTest, ExplainsAnUnreachableDaemon) {
  const std::string line = format_unreachable(Endpoint::unix_socket("/run/ember/ember.sock"),
                                              Error{ECONNREFUSED, "connect", "/x"});
  EXPECT_EQ(line.rfind("ember: cannot reach emberd at /run/ember/ember.sock: Connection refused; "
                       "is emberd running?",
                       0),
            0u);
  EXPECT_EQ(format_unreachable(Endpoint::tcp("127.0.0.1", 9000),
                               Error{ECONNREFUSED, "connect", "127.0.0.1:9000"}),
            "ember: cannot reach emberd at http://127.0.0.1:9000: Connection refused; is emberd "
            "running with --listen 127.0.0.1:9000?");
  EXPECT_EQ(format_unreachable(Endpoint::tcp("::1", 9000), Error{ETIMEDOUT, "connect", "x"}),
            "ember: cannot reach emberd at http://[::1]:9000: Connection timed out; is emberd "
            "running with --listen [::1]:9000?");
  EXPECT_EQ(format_unreachable(Endpoint::tcp("vm.invalid", 9000),
                               make_error("resolve vm.invalid", "Name or service not known")),
            "ember: cannot reach emberd at http://vm.invalid:9000: resolve vm.invalid: Name or "
            "service not known");
}

TEST(OutputTest, SummarizesAFunctionError) {
  EXPECT_EQ(
      format_function_error(
          "Unhandled",
          R"({"errorType":"ZeroDivisionError","errorMessage":"division by zero","stackTrace":[]})"),
      "ember: the function failed (Unhandled): ZeroDivisionError: division by zero");
  EXPECT_EQ(format_function_error("Unhandled", "not json"),
            "ember: the function failed (Unhandled)");
}

}  // namespace
}  // namespace ember::cli
