// A parsed filter pattern as a tree, shared by its parser and its matcher (private to them).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace ember::host::filter_detail {

// One entry of a field's list of matchers.
struct Matcher {
  enum class Kind {
    kExact,             // value
    kPrefix,            // text, ignore_case
    kSuffix,            // text, ignore_case
    kEqualsIgnoreCase,  // text
    kWildcard,          // pieces
    kAnythingBut,       // excluded
    kNumeric,           // lower/upper bounds
    kExists,            // exists
    kCidr,              // family, network, prefix_bits
  };
  Kind kind = Kind::kExact;
  nlohmann::json value;
  std::string text;
  bool ignore_case = false;
  // A wildcard "p0*p1*...*pn": the literal pieces between the stars, escapes resolved.
  std::vector<std::string> pieces;
  // anything-but matches a value that none of these match.
  std::vector<Matcher> excluded;
  bool has_lower = false, has_upper = false;
  bool lower_inclusive = false, upper_inclusive = false;
  double lower = 0, upper = 0;
  bool exists = true;
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> network{};
  int prefix_bits = 0;
};

struct Node;

// One key of a pattern object: a leaf (a list of matchers, any of which may match) or a
// nested object.
struct Field {
  std::string name;
  std::vector<Matcher> matchers;
  std::unique_ptr<Node> nested;
};

// A pattern object: every field must match, and when any_of is not empty ("$or"), one of
// its alternatives too.
struct Node {
  std::vector<Field> fields;
  std::vector<Node> any_of;
};

// One entry of a list of matchers, checked; `path` (dotted field names) is for messages.
Result<Matcher> parse_matcher(const nlohmann::json& value, const std::string& path);

// Whether `object` (nullptr: absent) matches the node.
bool matches_node(const Node& node, const nlohmann::json* object);

// Errors as FilterPattern::parse gives them: op "Invalid filter pattern definition.",
// context `what`, or `At "path": what`.
Error invalid_pattern(std::string what);
Error invalid_pattern_at(const std::string& path, const std::string& what);
// A pattern's value for a message, shortened.
std::string shown(const nlohmann::json& value);

}  // namespace ember::host::filter_detail
