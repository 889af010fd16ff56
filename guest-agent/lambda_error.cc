// Lambda's error documents: the wording Lambda uses, and nlohmann::json to read errorType.
#include "guest-agent/lambda_error.h"

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

namespace ember::agent {

const char* exit_error_type(const RuntimeExit& exit) {
  return exit.out_of_memory ? "Runtime.OutOfMemory" : "Runtime.ExitError";
}

std::string describe_exit(const RuntimeExit& exit) {
  if (exit.term_signal == 0 && exit.exit_code == 0) {
    return "Runtime exited without providing a reason";
  }
  if (exit.term_signal == 0) {
    return "Runtime exited with error: exit status " + std::to_string(exit.exit_code);
  }
  // Lower-case signal descriptions, as Lambda prints them ("signal: killed").
  const char* text = ::sigdescr_np(exit.term_signal);
  std::string name = text ? text : "signal " + std::to_string(exit.term_signal);
  if (!name.empty() && name[0] >= 'A' && name[0] <= 'Z') name[0] = char(name[0] - 'A' + 'a');
  return "Runtime exited with error: signal: " + name;
}

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string lambda_error_json(std::string_view error_type, std::string_view message) {
  return "{\"errorMessage\":" + json_quote(message) + ",\"errorType\":" + json_quote(error_type) +
         "}";
}

std::string posted_error_type(std::optional<std::string_view> header, std::string_view body) {
  if (header && !header->empty()) return std::string(*header);
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object()) {
    auto it = doc.find("errorType");
    if (it != doc.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
      return it->get<std::string>();
    }
  }
  return "Unhandled";
}

}  // namespace ember::agent
