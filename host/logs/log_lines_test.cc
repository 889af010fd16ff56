// Tests for the START/END/REPORT lines and the log tail.
#include "host/logs/log_lines.h"

#include <gtest/gtest.h>

#include "host/store/encoding.h"

namespace ember::host {
namespace {

InvocationReport report() {
  InvocationReport r;
  r.request_id = "8f5e0c1a-0000-4000-8000-000000000001";
  r.duration_ms = 12.341;
  r.memory_size_mb = 128;
  r.max_memory_used_mb = 40;
  return r;
}

TEST(LogLines, WarmInvocationInLambdasFormat) {
  EXPECT_EQ(invocation_log(report(), "hello\nworld"),
            "START RequestId: 8f5e0c1a-0000-4000-8000-000000000001 Version: $LATEST\n"
            "hello\nworld\n"
            "END RequestId: 8f5e0c1a-0000-4000-8000-000000000001\n"
            "REPORT RequestId: 8f5e0c1a-0000-4000-8000-000000000001\tDuration: 12.34 ms\t"
            "Billed Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t\n");
}

TEST(LogLines, ColdStartsSayInitOrRestoreDuration) {
  InvocationReport booted = report();
  booted.init_duration_ms = 250.5;
  EXPECT_NE(invocation_log(booted, "").find("Max Memory Used: 40 MB\tInit Duration: 250.50 ms\t\n"),
            std::string::npos);
  InvocationReport restored = report();
  restored.restore_duration_ms = 7.25;
  const std::string log = invocation_log(restored, "");
  EXPECT_NE(log.find("\tRestore Duration: 7.25 ms\t\n"), std::string::npos);
  EXPECT_EQ(log.find("Init Duration"), std::string::npos);
}

TEST(LogLines, FailedInvocationsCarryTheirStatus) {
  InvocationReport timed_out = report();
  timed_out.status = "timeout";
  EXPECT_NE(invocation_log(timed_out, "").find("\tStatus: timeout\t\n"), std::string::npos);
  InvocationReport crashed = report();
  crashed.status = "error";
  crashed.error_type = "Runtime.ExitError";
  EXPECT_NE(invocation_log(crashed, "").find("\tStatus: error\tError Type: Runtime.ExitError\t\n"),
            std::string::npos);
}

TEST(LogLines, NoOutputMeansNoExtraLine) {
  const std::string log = invocation_log(report(), "");
  EXPECT_NE(log.find("$LATEST\nEND RequestId"), std::string::npos);
}

TEST(LogLines, BilledDurationRoundsUpToWholeMilliseconds) {
  EXPECT_EQ(billed_duration_ms(0.2), 1u);
  EXPECT_EQ(billed_duration_ms(1.0), 1u);
  EXPECT_EQ(billed_duration_ms(1.01), 2u);
  EXPECT_EQ(billed_duration_ms(999.99), 1000u);
}

TEST(LogLines, TailIsTheLast4KbInBase64) {
  const std::string log = std::string(5000, 'a') + std::string(4096, 'b');
  EXPECT_EQ(*base64_decode(log_tail_base64(log)), std::string(4096, 'b'));
  EXPECT_EQ(*base64_decode(log_tail_base64("short")), "short");
}

}  // namespace
}  // namespace ember::host
