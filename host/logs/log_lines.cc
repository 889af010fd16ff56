// Formatting of Lambda's START/END/REPORT lines.
#include "host/logs/log_lines.h"

#include <cmath>
#include <cstdio>

#include "host/store/encoding.h"

namespace ember::host {
namespace {

std::string two_decimals(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

}  // namespace

uint64_t billed_duration_ms(double duration_ms) {
  if (!(duration_ms > 1)) return 1;  // also NaN
  return static_cast<uint64_t>(std::ceil(duration_ms));
}

std::string invocation_log(const InvocationReport& report, std::string_view runtime_output) {
  const std::string& id = report.request_id;
  std::string log = "START RequestId: " + id + " Version: $LATEST\n";
  log += runtime_output;
  if (!runtime_output.empty() && runtime_output.back() != '\n') log += '\n';
  log += "END RequestId: " + id + "\n";
  log += "REPORT RequestId: " + id + "\tDuration: " + two_decimals(report.duration_ms) +
         " ms\tBilled Duration: " + std::to_string(billed_duration_ms(report.duration_ms)) +
         " ms\tMemory Size: " + std::to_string(report.memory_size_mb) +
         " MB\tMax Memory Used: " + std::to_string(report.max_memory_used_mb) + " MB\t";
  if (report.init_duration_ms) {
    log += "Init Duration: " + two_decimals(*report.init_duration_ms) + " ms\t";
  }
  if (report.restore_duration_ms) {
    log += "Restore Duration: " + two_decimals(*report.restore_duration_ms) + " ms\t";
  }
  if (!report.status.empty()) log += "Status: " + report.status + "\t";
  if (!report.error_type.empty()) log += "Error Type: " + report.error_type + "\t";
  log += "\n";
  return log;
}

std::string log_tail_base64(std::string_view log, size_t max_bytes) {
  if (log.size() > max_bytes) log.remove_prefix(log.size() - max_bytes);
  return base64_encode(log);
}

}  // namespace ember::host
