// Formatting of emberd's answers for people; --json bypasses all of this.
#include "host/cli/output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>
#include <sstream>

namespace ember::cli {
namespace {

using nlohmann::json;

// A scalar as text: strings as they are, numbers and the rest as JSON.
std::string text_of(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// The field's text, or empty when it is absent or null.
std::string field(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  return text_of(*it);
}

std::string with_unit(const std::string& value, const char* unit) {
  return value.empty() ? value : value + " " + unit;
}

// First line of text, at most max_chars long.
std::string one_line(std::string_view text, size_t max_chars = 300) {
  std::string line(text.substr(0, text.find('\n')));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.size() > max_chars) line = line.substr(0, max_chars) + "...";
  return line;
}

using Rows = std::vector<std::pair<std::string, std::string>>;

// "Label: value" lines with the values aligned; rows without a value are left out, and an
// empty label continues the row above.
std::string aligned_lines(const Rows& rows) {
  size_t width = 0;
  for (const auto& [label, value] : rows) {
    if (!value.empty()) width = std::max(width, label.size() + 1);
  }
  std::ostringstream out;
  for (const auto& [label, value] : rows) {
    if (value.empty()) continue;
    std::string left = label.empty() ? "" : label + ":";
    left.resize(width + 1, ' ');
    out << left << value << "\n";
  }
  return out.str();
}

// Columns padded to their widest cell plus two spaces; the first row is the heading.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(rows.empty() ? 0 : rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::ostringstream out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      std::string cell = row[i];
      if (i + 1 < row.size()) cell.resize(widths[i] + 2, ' ');
      line += cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
  return out.str();
}

// Lambda's "2026-12-01T10:00:00.000+0000" as "2026-12-01 10:00:00" (the table says UTC);
// anything else as it is.
std::string short_utc(const std::string& timestamp) {
  if (timestamp.size() != 28 || timestamp[10] != 'T' || !timestamp.ends_with("+0000")) {
    return timestamp;
  }
  return timestamp.substr(0, 10) + " " + timestamp.substr(11, 8);
}

// Lambda's epoch-seconds timestamps (LastModified of a mapping) as "2026-12-01 10:00:00 UTC";
// anything else as it is.
std::string epoch_utc(const json& value) {
  if (!value.is_number()) return value.is_null() ? "" : text_of(value);
  const auto seconds = static_cast<time_t>(std::floor(value.get<double>()));
  struct tm utc {};
  if (!gmtime_r(&seconds, &utc)) return text_of(value);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return text;
}

// The object under key, or null.
const json& member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// The mapping's function by name: the status's FunctionName, else the end of FunctionArn
// ("arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]").
std::string mapping_function(const json& mapping) {
  std::string name = field(member(mapping, "Status"), "FunctionName");
  if (!name.empty()) return name;
  const std::string arn = field(mapping, "FunctionArn");
  const size_t at = arn.find(":function:");
  if (at == std::string::npos) return arn;
  name = arn.substr(at + 10);
  return name.substr(0, name.find(':'));
}

// State and LastProcessingResult: the status's, read with the figures, else the mapping's.
std::string fresh(const json& mapping, const char* key) {
  std::string value = field(member(mapping, "Status"), key);
  return value.empty() ? field(mapping, key) : value;
}

// A live figure: "-" when absent (no poller), "unknown" for a Lag of -1, records per second
// with one decimal.
std::string figure(const json& mapping, const char* key) {
  const json& value = member(member(mapping, "Status"), key);
  if (!value.is_number()) return value.is_null() ? "-" : text_of(value);
  if (std::string_view(key) == "Lag" && value.get<double>() < 0) return "unknown";
  if (std::string_view(key) == "RecordsPerSecond") {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", value.get<double>());
    return text;
  }
  return text_of(value);
}

// "-1 (no limit)" for Lambda's -1, else the value and its unit.
std::string limit(const json& mapping, const char* key, const char* unit) {
  const std::string value = field(mapping, key);
  if (value == "-1") return "-1 (no limit)";
  return *unit ? with_unit(value, unit) : value;
}

}  // namespace

std::string format_function(const json& function) {
  const json& c = function.contains("Configuration") ? function["Configuration"] : function;
  Rows rows = {
      {"Name", field(c, "FunctionName")},
      {"ARN", field(c, "FunctionArn")},
      {"Runtime", field(c, "Runtime")},
      {"Handler", field(c, "Handler")},
      {"Memory", with_unit(field(c, "MemorySize"), "MB")},
      {"Timeout", with_unit(field(c, "Timeout"), "s")},
      {"/tmp",
       with_unit(c.contains("EphemeralStorage") ? field(c["EphemeralStorage"], "Size") : "", "MB")},
      {"Code size", with_unit(field(c, "CodeSize"), "bytes")},
      {"Code SHA-256", field(c, "CodeSha256")},
      {"Description", field(c, "Description")},
      {"Role", field(c, "Role")},
      {"Egress", field(c, "Egress")},  // absent: emberd's --egress-default
      {"State", field(c, "State")},
      {"State reason", field(c, "StateReason")},
      {"Last modified", field(c, "LastModified")},
  };
  std::vector<std::string> env;
  if (c.is_object() && c.contains("Environment") && c["Environment"].is_object()) {
    const json& variables = c["Environment"].value("Variables", json::object());
    if (variables.is_object()) {
      for (const auto& [key, value] : variables.items()) env.push_back(key + "=" + text_of(value));
    }
  }
  for (size_t i = 0; i < env.size(); ++i) rows.emplace_back(i == 0 ? "Environment" : "", env[i]);
  return aligned_lines(rows);
}

std::string format_function_list(const std::vector<json>& functions) {
  if (functions.empty()) return "No functions.\n";
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "LAST MODIFIED"}};
  for (const json& f : functions) {
    rows.push_back({field(f, "FunctionName"), field(f, "Runtime"), field(f, "Handler"),
                    with_unit(field(f, "MemorySize"), "MB"), with_unit(field(f, "Timeout"), "s"),
                    field(f, "LastModified")});
  }
  return table(rows);
}

std::string format_mapping_list(const std::vector<json>& mappings) {
  if (mappings.empty()) return "No event source mappings.\n";
  std::vector<std::vector<std::string>> rows = {
      {"UUID", "FUNCTION", "SOURCE", "STATE", "LAST RESULT", "LAG", "IN FLIGHT", "RECORDS/S"}};
  for (const json& m : mappings) {
    rows.push_back({field(m, "UUID"), mapping_function(m), field(m, "EventSourceArn"),
                    fresh(m, "State"), one_line(fresh(m, "LastProcessingResult"), 48),
                    figure(m, "Lag"), figure(m, "BatchesInFlight"), figure(m, "RecordsPerSecond")});
  }
  return table(rows);
}

std::string format_mapping(const json& m) {
  std::string types;
  for (const json& type : member(m, "FunctionResponseTypes")) {
    if (type.is_string()) types += (types.empty() ? "" : ", ") + type.get<std::string>();
  }
  const std::string in_flight = figure(m, "BatchesInFlight");
  Rows rows = {
      {"UUID", field(m, "UUID")},
      {"ARN", field(m, "EventSourceMappingArn")},
      {"Function", field(m, "FunctionArn")},
      {"Source", field(m, "EventSourceArn")},
      {"State", fresh(m, "State")},
      {"State reason", field(m, "StateTransitionReason")},
      {"Last result", fresh(m, "LastProcessingResult")},
      {"Last modified", epoch_utc(member(m, "LastModified"))},
      {"Batch size", field(m, "BatchSize")},
      {"Batching window", with_unit(field(m, "MaximumBatchingWindowInSeconds"), "s")},
      {"Starting position", field(m, "StartingPosition")},
      {"Starting at", epoch_utc(member(m, "StartingPositionTimestamp"))},
      {"Response types", types},
      {"Max retry attempts", limit(m, "MaximumRetryAttempts", "")},
      {"Max record age", limit(m, "MaximumRecordAgeInSeconds", "s")},
      {"Bisect on error", field(m, "BisectBatchOnFunctionError")},
      {"Parallelization", field(m, "ParallelizationFactor")},
      {"Tumbling window", with_unit(field(m, "TumblingWindowInSeconds"), "s")},
      {"Max concurrency", field(member(m, "ScalingConfig"), "MaximumConcurrency")},
      {"On failure", field(member(member(m, "DestinationConfig"), "OnFailure"), "Destination")},
  };
  const json& filters = member(member(m, "FilterCriteria"), "Filters");
  bool first = true;
  for (const json& filter : filters.is_array() ? filters : json::array()) {
    const std::string pattern = field(filter, "Pattern");
    if (pattern.empty()) continue;
    rows.emplace_back(first ? "Filters" : "", pattern);
    first = false;
  }
  // Fields emberd may add later are shown too, by their JSON name.
  // clang-format off
  static const std::set<std::string> kShown = {
      "UUID", "EventSourceMappingArn", "FunctionArn", "EventSourceArn", "State",
      "StateTransitionReason", "LastProcessingResult", "LastModified", "BatchSize",
      "MaximumBatchingWindowInSeconds", "StartingPosition", "StartingPositionTimestamp",
      "FunctionResponseTypes", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
      "BisectBatchOnFunctionError", "ParallelizationFactor", "TumblingWindowInSeconds",
      "ScalingConfig", "DestinationConfig", "FilterCriteria", "Status"};
  // clang-format on
  if (m.is_object()) {
    for (const auto& [key, value] : m.items()) {
      if (!kShown.count(key) && !value.is_null()) rows.emplace_back(key, text_of(value));
    }
  }
  const std::string lag = figure(m, "Lag");
  const std::string records = figure(m, "Records");
  const std::string rate = figure(m, "RecordsPerSecond");
  rows.insert(
      rows.end(),
      {{"Lag", lag == "-" || lag == "unknown" ? lag : lag + " entries not yet acknowledged"},
       {"In flight",
        in_flight == "-" ? in_flight : in_flight + (in_flight == "1" ? " batch" : " batches")},
       {"Records", records == "-" ? records : records + " since the poller started"},
       {"Records/s", rate == "-" ? rate : rate + " (average since the poller started)"}});
  return aligned_lines(rows);
}

std::string format_duration_ms(int64_t ms) {
  constexpr int64_t kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute, kDay = 24 * kHour;
  // "A big, B small", the smaller part left out when it is zero.
  auto two = [](int64_t big, const char* big_unit, int64_t small, const char* small_unit) {
    std::string text = std::to_string(big) + " " + big_unit;
    if (small != 0) text += " " + std::to_string(small) + " " + small_unit;
    return text;
  };
  ms = std::max<int64_t>(ms, 0);
  if (ms < kSecond) return std::to_string(ms) + " ms";
  if (ms < kMinute) {
    const int64_t tenths = ms / 100;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
  }
  if (ms < kHour) return two(ms / kMinute, "min", ms % kMinute / kSecond, "s");
  if (ms < kDay) return two(ms / kHour, "h", ms % kHour / kMinute, "min");
  return two(ms / kDay, "d", ms % kDay / kHour, "h");
}

std::string format_queue(const json& queue) {
  std::string oldest;
  const json age = queue.is_object() ? queue.value("OldestAgeMs", json()) : json();
  if (field(queue, "Depth") == "0") {
    oldest = "none, the queue is empty";
  } else if (age.is_number_integer()) {
    oldest = format_duration_ms(age.get<int64_t>()) + " old";
  } else {
    oldest = field(queue, "OldestAgeMs");
  }
  std::string out = aligned_lines({{"Function", field(queue, "FunctionName")},
                                   {"Depth", field(queue, "Depth")},
                                   {"Oldest event", oldest},
                                   {"In flight", field(queue, "InFlight")},
                                   {"Waiting for a retry", field(queue, "WaitingRetry")}});
  const json recent = queue.is_object() ? queue.value("Recent", json::array()) : json::array();
  if (!recent.is_array() || recent.empty()) return out + "\nNo recently finished events.\n";
  std::vector<std::vector<std::string>> rows = {
      {"REQUEST ID", "FATE", "ATTEMPTS", "ACCEPTED (UTC)", "FINISHED (UTC)", "DETAIL"}};
  for (const json& event : recent) {
    rows.push_back({field(event, "RequestId"), field(event, "Fate"), field(event, "Attempts"),
                    short_utc(field(event, "Accepted")), short_utc(field(event, "Finished")),
                    one_line(field(event, "Detail"))});
  }
  return out + "\nRecently finished events, newest first:\n" + table(rows);
}

std::string format_timing(std::string_view header) {
  std::string start, total;
  bool from_pool = false;
  std::vector<std::string> parts;
  auto in_ms = [](std::string value) {
    return value.size() > 2 && value.ends_with("ms") ? value : value + " ms";
  };
  while (!header.empty()) {
    const size_t semicolon = header.find(';');
    std::string_view item = header.substr(0, semicolon);
    header = semicolon == std::string_view::npos ? "" : header.substr(semicolon + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    const size_t eq = item.find('=');
    if (item.empty() || eq == std::string_view::npos) continue;
    const std::string key(item.substr(0, eq));
    const std::string value(item.substr(eq + 1));
    if (key == "start") {
      start = value;
    } else if (key == "pool") {
      from_pool = value == "1";
    } else if (key == "total") {
      total = in_ms(value);
    } else {
      parts.push_back(key + " " + in_ms(value));
    }
  }
  std::string line = "timing:";
  if (!start.empty()) line += " " + start + " start" + (from_pool ? " from the pool" : "");
  if (!total.empty()) line += std::string(start.empty() ? "" : ",") + " total " + total;
  if (!parts.empty()) {
    line += " (";
    for (size_t i = 0; i < parts.size(); ++i) line += (i ? ", " : "") + parts[i];
    line += ")";
  }
  if (line == "timing:") line += " emberd sent no timing breakdown";
  return line;
}

ApiError api_error(const HttpResponse& response) {
  ApiError error;
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) body = json::object();
  if (const std::string* type = response.header("x-amzn-ErrorType")) {
    error.type = type->substr(0, type->find(':'));
  }
  if (error.type.empty()) error.type = field(body, "Type");
  if (error.type.empty()) {
    // AWS JSON protocols name it "__type", sometimes with a "namespace#" prefix.
    const std::string type = field(body, "__type");
    error.type = type.substr(type.find('#') == std::string::npos ? 0 : type.find('#') + 1);
  }
  for (const char* key : {"Message", "message", "errorMessage"}) {
    if (error.message.empty()) error.message = field(body, key);
  }
  if (error.type.empty()) {
    error.type = "HTTP " + std::to_string(response.status);
    if (!response.reason.empty()) error.type += " " + response.reason;
    if (error.message.empty() && !body.empty()) error.message = one_line(body.dump());
    if (error.message.empty()) error.message = one_line(response.body);
  }
  return error;
}

std::string format_api_error(const ApiError& error) {
  std::string line = "ember: " + error.type;
  if (!error.message.empty()) line += ": " + one_line(error.message, 2000);
  return line;
}

std::string format_unreachable(const Endpoint& endpoint, const Error& error) {
  const std::string reason = error.code != 0 ? std::strerror(error.code) : error.message();
  const std::string line = "ember: cannot reach emberd at " + endpoint.name() + ": " + reason;
  if (endpoint.kind == Endpoint::Kind::kTcp) {
    // A host that does not resolve says it all; otherwise the port may be wrong or closed.
    if (error.code == 0) return line;
    return line + "; is emberd running with --listen " + endpoint.authority() + "?";
  }
  return line +
         "; is emberd running? (start it with `emberd`, or point --socket or EMBER_SOCKET at "
         "its socket)";
}

std::string format_function_error(std::string_view kind, std::string_view payload) {
  std::string line = "ember: the function failed (" + std::string(kind) + ")";
  const json body = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  const std::string type = field(body, "errorType");
  const std::string message = field(body, "errorMessage");
  if (!type.empty()) line += ": " + type;
  if (!message.empty()) line += ": " + one_line(message);
  return line;
}

}  // namespace ember::cli
