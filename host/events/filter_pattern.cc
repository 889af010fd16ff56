// Parsing filter patterns (Lambda's FilterCriteria in EventBridge's syntax) into a tree.
#include "host/events/filter_pattern.h"

#include <algorithm>

#include "host/events/filter_nodes.h"

namespace ember::host {
namespace filter_detail {

Error invalid_pattern(std::string what) {
  return make_error("Invalid filter pattern definition.", std::move(what));
}

Error invalid_pattern_at(const std::string& path, const std::string& what) {
  return invalid_pattern("At \"" + path + "\": " + what);
}

std::string shown(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

}  // namespace filter_detail

namespace {

using filter_detail::Field;
using filter_detail::invalid_pattern;
using filter_detail::invalid_pattern_at;
using filter_detail::Matcher;
using filter_detail::Node;
using filter_detail::shown;
using nlohmann::json;

// Deep enough for any real record; shallow enough that the recursive parser and matcher
// never run out of stack.
constexpr int kMaxDepth = 64;

bool is_matcher_name(const std::string& name) {
  for (const char* known : {"prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but",
                            "numeric", "exists", "cidr"}) {
    if (name == known) return true;
  }
  return false;
}

// The last name of a dotted path.
std::string path_tail(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

std::string joined(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}

Result<Node> parse_node(const json& object, const std::string& path, int depth) {
  if (depth > kMaxDepth) {
    return invalid_pattern_at(
        path, "the pattern nests deeper than " + std::to_string(kMaxDepth) + " levels.");
  }
  if (object.empty()) {
    if (path.empty()) {
      return invalid_pattern(
          "The pattern is an empty object; name at least one field, or leave FilterCriteria "
          "out to keep every record.");
    }
    return invalid_pattern_at(path, "an empty object matches nothing; name a field in it.");
  }
  Node node;
  for (const auto& [name, value] : object.items()) {
    const std::string at = joined(path, name);
    // "$or" only as EventBridge reads it: a list of objects; otherwise an ordinary field.
    const bool is_or =
        name == "$or" && value.is_array() && !value.empty() &&
        std::all_of(value.begin(), value.end(), [](const json& v) { return v.is_object(); });
    if (is_or) {
      if (value.size() < 2) {
        return invalid_pattern_at(at, "\"$or\" lists two or more patterns to choose from.");
      }
      for (const json& alternative : value) {
        EMBER_TRY(Node parsed, parse_node(alternative, at, depth + 1));
        node.any_of.push_back(std::move(parsed));
      }
      continue;
    }
    Field field;
    field.name = name;
    if (value.is_object()) {
      EMBER_TRY(Node nested, parse_node(value, at, depth + 1));
      field.nested = std::make_unique<Node>(std::move(nested));
    } else if (value.is_array()) {
      if (value.empty()) {
        return invalid_pattern_at(at,
                                  "an empty list matches nothing; list values such as [\"a\"], "
                                  "or [null] for null, [\"\"] for an empty string.");
      }
      for (const json& item : value) {
        EMBER_TRY(Matcher m, filter_detail::parse_matcher(item, at));
        field.matchers.push_back(std::move(m));
      }
    } else if (is_matcher_name(name) && !path.empty()) {
      // {"status": {"prefix": "a"}}: a matcher written without its list.
      return invalid_pattern_at(path, "matchers go in a list: \"" + path_tail(path) + "\": [{\"" +
                                          name + "\": " + shown(value) + "}].");
    } else {
      return invalid_pattern_at(at, "a field takes a list of matchers such as [" + shown(value) +
                                        "], or a nested object; not " + shown(value) + ".");
    }
    node.fields.push_back(std::move(field));
  }
  return node;
}

// Lambda filters a stream's data as JSON only: a list of matchers on "data" is refused.
Status check_stream_data(const Node& node) {
  for (const Field& field : node.fields) {
    if (field.name == "data" && !field.nested) {
      return invalid_pattern_at("data",
                                "a stream's data is filtered as JSON: give an object of its "
                                "fields, such as {\"data\": {\"status\": [\"ok\"]}}.");
    }
  }
  for (const Node& alternative : node.any_of) EMBER_CHECK(check_stream_data(alternative));
  return {};
}

}  // namespace

FilterPattern::FilterPattern(std::shared_ptr<const filter_detail::Node> root)
    : root_(std::move(root)) {}

Result<FilterPattern> FilterPattern::parse(std::string_view pattern_json) {
  json pattern;
  try {
    pattern = json::parse(pattern_json);
  } catch (const json::parse_error& e) {
    return invalid_pattern("The pattern is not valid JSON (at character " + std::to_string(e.byte) +
                           ").");
  }
  if (!pattern.is_object()) {
    return invalid_pattern(
        "The pattern is a JSON object such as {\"body\": {\"status\": [\"ok\"]}}, not " +
        shown(pattern) + ".");
  }
  EMBER_TRY(Node root, parse_node(pattern, "", 1));
  return FilterPattern(std::make_shared<const Node>(std::move(root)));
}

Result<FilterPattern> FilterPattern::parse(std::string_view pattern_json, SourceKind kind) {
  EMBER_TRY(FilterPattern pattern, parse(pattern_json));
  if (kind == SourceKind::kStream) EMBER_CHECK(check_stream_data(*pattern.root_));
  return pattern;
}

bool FilterPattern::matches(const nlohmann::json& record) const {
  return filter_detail::matches_node(*root_, &record);
}

bool passes_filters(const std::vector<FilterPattern>& filters, const nlohmann::json& record) {
  if (filters.empty()) return true;
  return std::any_of(filters.begin(), filters.end(),
                     [&](const FilterPattern& filter) { return filter.matches(record); });
}

}  // namespace ember::host
