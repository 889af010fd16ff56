// Lambda's event filtering: FilterCriteria patterns and the view of a record they match.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "host/events/source_records.h"

namespace ember::host {

namespace filter_detail {
struct Node;
}

// One FilterCriteria.Filters[].Pattern, in EventBridge's syntax. A pattern is a JSON object:
// each key names a field of the record, its value is either a nested object (a field further
// down) or a list of matchers, any of which may match (OR); all keys must match (AND).
// Matchers:
//   "text", 5, true, null          the exact value (numbers by kind: 5 is not 5.0)
//   {"prefix": "a"} {"suffix": "z"} or with {"equals-ignore-case": "a"} as the operand
//   {"equals-ignore-case": "a"}    ASCII letters folded
//   {"wildcard": "a*z"}            '*' any run; "\*" and "\\" for the characters themselves
//   {"anything-but": ...}          a value, a list of strings or of numbers, or a prefix,
//                                  suffix, equals-ignore-case or wildcard object
//   {"numeric": [">", 0, "<=", 5]} "=" alone, or one or two of <, <=, >, >= (a range)
//   {"exists": true|false}         whether the field has a value (leaves only: an object
//                                  is not a value)
//   {"cidr": "10.0.0.0/24"}        IPv4 or IPv6 address strings in the range
// "$or": [{...}, {...}, ...] at any level ORs two or more sub-patterns. When the record's
// field is an array, a matcher matches when any element does, and a nested object is
// matched against each object element in turn (all its fields from the same element). A
// nested object in the pattern never matches a field that holds a scalar (so a JSON pattern
// for the body drops a plain-string body, as Lambda does), while a missing field leaves only
// {"exists": false} matchable. Everything but numeric, exact and anything-but matches
// strings only.
class FilterPattern {
 public:
  // Parses a pattern. On error, error().op is "Invalid filter pattern definition." and
  // error().context says what is wrong and where: answer InvalidParameterValueException with
  // op + " " + context.
  static Result<FilterPattern> parse(std::string_view pattern_json);
  // As parse, plus Lambda's rule for stream sources: a stream's `data` is filtered as JSON
  // only, so a list of matchers on `data` is refused.
  static Result<FilterPattern> parse(std::string_view pattern_json, SourceKind kind);

  // Whether the record matches: pass filterable_view(record, kind), not the record itself.
  bool matches(const nlohmann::json& record) const;

 private:
  explicit FilterPattern(std::shared_ptr<const filter_detail::Node> root);
  std::shared_ptr<const filter_detail::Node> root_;  // immutable, so copies share it
};

// A record is kept when any pattern matches (Lambda ORs the filters); no patterns: all kept.
// `record` is the filterable view.
bool passes_filters(const std::vector<FilterPattern>& filters, const nlohmann::json& record);

// The object patterns are matched against, for a record of stream_record or queue_record:
//   queue:  the record as it is, with `body` replaced by its JSON when the body parses as
//           JSON (pattern key "body"), left a string otherwise;
//   stream: the fields of `kinesis` lifted to the top (partitionKey, sequenceNumber, data,
//           approximateArrivalTimestamp, kinesisSchemaVersion) beside the other top-level
//           fields, with `data` base64-decoded and replaced by its JSON when it parses
//           (pattern key "data"), left the base64 string otherwise (which no JSON pattern
//           for data matches, so Lambda's rule holds: non-JSON data is dropped).
nlohmann::json filterable_view(const nlohmann::json& record, SourceKind kind);

}  // namespace ember::host
