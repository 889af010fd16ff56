// Formatting of emberd's answers for people; --json bypasses all of this.
#include "host/cli/output.h"

#include <algorithm>
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
    } else if (key == "total") {
      total = in_ms(value);
    } else {
      parts.push_back(key + " " + in_ms(value));
    }
  }
  std::string line = "timing:";
  if (!start.empty()) line += " " + start + " start";
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
