// Parsing and checking one filter matcher: prefix, suffix, wildcard, anything-but, numeric...
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "host/events/filter_nodes.h"

namespace ember::host::filter_detail {
namespace {

using nlohmann::json;

Result<std::string> string_operand(const json& value, const std::string& path, const char* op) {
  if (!value.is_string()) {
    return invalid_pattern_at(
        path, std::string("\"") + op + "\" takes a string, not " + shown(value) + ".");
  }
  return value.get<std::string>();
}

// "prefix"/"suffix": a string, or {"equals-ignore-case": string}.
Result<Matcher> affix(Matcher::Kind kind, const json& value, const std::string& path,
                      const char* op) {
  Matcher m;
  m.kind = kind;
  if (value.is_object() && value.size() == 1 && value.contains("equals-ignore-case")) {
    EMBER_TRY(m.text, string_operand(value["equals-ignore-case"], path, "equals-ignore-case"));
    m.ignore_case = true;
    return m;
  }
  if (!value.is_string()) {
    return invalid_pattern_at(path, std::string("\"") + op + "\" takes a string or " +
                                        "{\"equals-ignore-case\": \"...\"}, not " + shown(value) +
                                        ".");
  }
  m.text = value.get<std::string>();
  return m;
}

// '*' matches any run of characters; "\*" and "\\" stand for '*' and '\'.
Result<Matcher> wildcard(const json& value, const std::string& path) {
  EMBER_TRY(const std::string text, string_operand(value, path, "wildcard"));
  Matcher m;
  m.kind = Matcher::Kind::kWildcard;
  m.pieces.emplace_back();
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 1 == text.size() || (text[i + 1] != '*' && text[i + 1] != '\\')) {
        return invalid_pattern_at(path, "in wildcard " + shown(value) +
                                            ", a backslash escapes only '*' or '\\' (write "
                                            "\"\\\\*\" for a literal star).");
      }
      m.pieces.back() += text[++i];
    } else if (c == '*') {
      if (i + 1 < text.size() && text[i + 1] == '*') {
        return invalid_pattern_at(path, "wildcard " + shown(value) +
                                            " has consecutive '*'; one '*' already matches any "
                                            "run.");
      }
      m.pieces.emplace_back();
    } else {
      m.pieces.back() += c;
    }
  }
  return m;
}

Matcher exact(const json& value) {
  Matcher m;
  m.kind = Matcher::Kind::kExact;
  m.value = value;
  return m;
}

// A string or a non-empty list of strings, each made a matcher by `make`.
template <typename Make>
Status one_or_list(const json& value, const std::string& path, const char* op, Make make,
                   std::vector<Matcher>& out) {
  const json list = value.is_array() ? value : json::array({value});
  const bool strings =
      std::all_of(list.begin(), list.end(), [](const json& v) { return v.is_string(); });
  if (list.empty() || !strings) {
    return invalid_pattern_at(path, std::string("\"anything-but\": {\"") + op +
                                        "\": ...} takes a string or a non-empty list of "
                                        "strings, not " +
                                        shown(value) + ".");
  }
  for (const json& item : list) {
    EMBER_TRY(Matcher m, make(item));
    out.push_back(std::move(m));
  }
  return {};
}

Result<Matcher> anything_but(const json& value, const std::string& path) {
  static const std::string kForms =
      "\"anything-but\" takes a string, a number, a list of strings or of numbers, or one of "
      "{\"prefix\": ...}, {\"suffix\": ...}, {\"equals-ignore-case\": ...}, "
      "{\"wildcard\": ...}; not ";
  Matcher m;
  m.kind = Matcher::Kind::kAnythingBut;
  if (value.is_string() || value.is_number()) {
    m.excluded.push_back(exact(value));
    return m;
  }
  if (value.is_array()) {
    const auto all = [&](bool (json::*is)() const noexcept) {
      return std::all_of(value.begin(), value.end(), [&](const json& v) { return (v.*is)(); });
    };
    if (value.empty() || !(all(&json::is_string) || all(&json::is_number))) {
      return invalid_pattern_at(path, kForms + shown(value) +
                                          " (a list must be all strings or all numbers, and not "
                                          "empty).");
    }
    for (const json& item : value) m.excluded.push_back(exact(item));
    return m;
  }
  if (value.is_object() && value.size() == 1) {
    const std::string& op = value.begin().key();
    const json& operand = value.begin().value();
    if (op == "prefix" || op == "suffix") {
      const auto kind = op == "prefix" ? Matcher::Kind::kPrefix : Matcher::Kind::kSuffix;
      EMBER_TRY(Matcher inner, affix(kind, operand, path, op.c_str()));
      m.excluded.push_back(std::move(inner));
      return m;
    }
    if (op == "equals-ignore-case") {
      const auto make = [](const json& item) -> Result<Matcher> {
        Matcher inner;
        inner.kind = Matcher::Kind::kEqualsIgnoreCase;
        inner.text = item.get<std::string>();
        return inner;
      };
      EMBER_CHECK(one_or_list(operand, path, "equals-ignore-case", make, m.excluded));
      return m;
    }
    if (op == "wildcard") {
      const auto make = [&](const json& item) { return wildcard(item, path); };
      EMBER_CHECK(one_or_list(operand, path, "wildcard", make, m.excluded));
      return m;
    }
  }
  return invalid_pattern_at(path, kForms + shown(value) + ".");
}

// [op, n] or [lower-op, n, upper-op, n] in either order; "=" only alone.
Result<Matcher> numeric(const json& value, const std::string& path) {
  const std::string form =
      "\"numeric\" takes [\"=\", 5], [\">\", 0], or a range such as [\">\", 0, \"<=\", 5]; not " +
      shown(value) + ".";
  if (!value.is_array() || (value.size() != 2 && value.size() != 4)) {
    return invalid_pattern_at(path, form);
  }
  Matcher m;
  m.kind = Matcher::Kind::kNumeric;
  for (size_t i = 0; i < value.size(); i += 2) {
    const json& bound = value[i + 1];
    if (!value[i].is_string()) return invalid_pattern_at(path, form);
    if (!bound.is_number() || !std::isfinite(bound.get<double>())) {
      return invalid_pattern_at(
          path, "\"numeric\" compares with numbers; " + shown(bound) + " is not a number.");
    }
    const std::string op = value[i].get<std::string>();
    const double n = bound.get<double>();
    if (op == "=") {
      if (value.size() != 2) {
        return invalid_pattern_at(
            path, "\"numeric\": \"=\" stands alone, as [\"=\", 5]; not " + shown(value) + ".");
      }
      m.has_lower = m.has_upper = m.lower_inclusive = m.upper_inclusive = true;
      m.lower = m.upper = n;
    } else if (op == ">" || op == ">=") {
      if (m.has_lower) {
        return invalid_pattern_at(path, "\"numeric\" " + shown(value) + " has two lower bounds.");
      }
      m.has_lower = true;
      m.lower_inclusive = op == ">=";
      m.lower = n;
    } else if (op == "<" || op == "<=") {
      if (m.has_upper) {
        return invalid_pattern_at(path, "\"numeric\" " + shown(value) + " has two upper bounds.");
      }
      m.has_upper = true;
      m.upper_inclusive = op == "<=";
      m.upper = n;
    } else {
      return invalid_pattern_at(
          path, "\"numeric\" knows the operators =, <, <=, > and >=; not \"" + op + "\".");
    }
  }
  if (m.has_lower && m.has_upper &&
      (m.lower > m.upper || (m.lower == m.upper && !(m.lower_inclusive && m.upper_inclusive)))) {
    return invalid_pattern_at(
        path, "\"numeric\" " + shown(value) + " is an empty range: no number is in it.");
  }
  return m;
}

// "10.0.0.0/24" or "2001:db8::/32".
Result<Matcher> cidr(const json& value, const std::string& path) {
  EMBER_TRY(const std::string text, string_operand(value, path, "cidr"));
  const std::string form =
      "\"cidr\" takes an address range such as \"10.0.0.0/24\" or \"2001:db8::/32\"; not " +
      shown(value) + ".";
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return invalid_pattern_at(path, form);
  Matcher m;
  m.kind = Matcher::Kind::kCidr;
  const std::string address = text.substr(0, slash);
  m.family = address.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (inet_pton(m.family, address.c_str(), m.network.data()) != 1) {
    return invalid_pattern_at(path, form);
  }
  const std::string_view bits(text.data() + slash + 1, text.size() - slash - 1);
  const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), m.prefix_bits);
  const int max_bits = m.family == AF_INET ? 32 : 128;
  if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() || m.prefix_bits < 0 ||
      m.prefix_bits > max_bits) {
    return invalid_pattern_at(path, form);
  }
  return m;
}

}  // namespace

Result<Matcher> parse_matcher(const json& value, const std::string& path) {
  if (value.is_string() || value.is_number() || value.is_boolean() || value.is_null()) {
    return exact(value);
  }
  if (value.is_array()) {
    return invalid_pattern_at(path, "lists of matchers do not nest: " + shown(value) + ".");
  }
  if (value.size() != 1) {
    return invalid_pattern_at(
        path, "a matcher object has exactly one key, such as {\"prefix\": \"a\"}; not " +
                  shown(value) + ".");
  }
  const std::string& op = value.begin().key();
  const json& operand = value.begin().value();
  if (op == "prefix") return affix(Matcher::Kind::kPrefix, operand, path, "prefix");
  if (op == "suffix") return affix(Matcher::Kind::kSuffix, operand, path, "suffix");
  if (op == "equals-ignore-case") {
    Matcher m;
    m.kind = Matcher::Kind::kEqualsIgnoreCase;
    EMBER_TRY(m.text, string_operand(operand, path, "equals-ignore-case"));
    return m;
  }
  if (op == "wildcard") return wildcard(operand, path);
  if (op == "anything-but") return anything_but(operand, path);
  if (op == "numeric") return numeric(operand, path);
  if (op == "cidr") return cidr(operand, path);
  if (op == "exists") {
    if (!operand.is_boolean()) {
      return invalid_pattern_at(path,
                                "\"exists\" takes true or false, not " + shown(operand) + ".");
    }
    Matcher m;
    m.kind = Matcher::Kind::kExists;
    m.exists = operand.get<bool>();
    return m;
  }
  return invalid_pattern_at(path, "unknown matcher \"" + op +
                                      "\"; the matchers are prefix, suffix, equals-ignore-case, "
                                      "wildcard, anything-but, numeric, exists and cidr.");
}

}  // namespace ember::host::filter_detail
