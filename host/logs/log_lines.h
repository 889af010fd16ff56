// The START, END and REPORT lines of one invocation, in Lambda's format, built in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ember::host {

// What the REPORT line says about one invocation.
struct InvocationReport {
  std::string request_id;
  double duration_ms = 0;  // the handler's run
  uint32_t memory_size_mb = 0;
  uint64_t max_memory_used_mb = 0;
  std::optional<double> init_duration_ms;     // a cold start that booted and ran init
  std::optional<double> restore_duration_ms;  // a cold start restored from a snapshot
  // For a failed invocation, e.g. "timeout", or "error" with an error type such as
  // "Runtime.ExitError"; empty for success.
  std::string status;
  std::string error_type;
};

// Lambda bills whole milliseconds, rounding up, at least 1.
uint64_t billed_duration_ms(double duration_ms);

// "START RequestId: <id> Version: $LATEST\n", then runtime_output (a missing final newline
// added), "END RequestId: <id>\n" and
// "REPORT RequestId: <id>\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t
// Max Memory Used: 40 MB\t" followed, when set, by "Init Duration: X ms\t" or
// "Restore Duration: X ms\t", and "Status: S\t" / "Error Type: T\t", then "\n".
std::string invocation_log(const InvocationReport& report, std::string_view runtime_output);

// The last max_bytes of log (Lambda's X-Amz-Log-Result holds the last 4 KB), base64.
std::string log_tail_base64(std::string_view log, size_t max_bytes = 4096);

}  // namespace ember::host
