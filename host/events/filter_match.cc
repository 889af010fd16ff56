// Matching records against parsed filter patterns, and the view of a record patterns see.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>

#include "host/events/filter_nodes.h"
#include "host/events/filter_pattern.h"
#include "host/store/encoding.h"

namespace ember::host {
namespace filter_detail {
namespace {

using nlohmann::json;

char fold(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool same_text(std::string_view a, std::string_view b, bool ignore_case) {
  if (a.size() != b.size()) return false;
  if (!ignore_case) return a == b;
  for (size_t i = 0; i < a.size(); ++i) {
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

// Exact matching as Lambda documents it: strings character by character, numbers by their
// written form (so 300 and 300.0 differ: nlohmann keeps integers and floats apart).
bool same_value(const json& want, const json& have) {
  if (want.is_number() && have.is_number()) {
    if (want.is_number_float() != have.is_number_float()) return false;
    return want == have;
  }
  return want.type() == have.type() && want == have;
}

// Pieces p0*p1*...*pn: p0 leads, pn ends, and the middle pieces appear in order between
// them; taking each middle piece at its first place is always right with only '*'.
bool wildcard_matches(const std::vector<std::string>& pieces, std::string_view text) {
  if (pieces.size() == 1) return text == pieces[0];
  const std::string& first = pieces.front();
  const std::string& last = pieces.back();
  if (text.size() < first.size() + last.size()) return false;
  if (text.substr(0, first.size()) != first) return false;
  if (text.substr(text.size() - last.size()) != last) return false;
  std::string_view middle = text.substr(first.size(), text.size() - first.size() - last.size());
  for (size_t i = 1; i + 1 < pieces.size(); ++i) {
    const size_t at = middle.find(pieces[i]);
    if (at == std::string_view::npos) return false;
    middle.remove_prefix(at + pieces[i].size());
  }
  return true;
}

bool cidr_matches(const Matcher& m, const std::string& text) {
  std::array<uint8_t, 16> address{};
  if (inet_pton(m.family, text.c_str(), address.data()) != 1) return false;
  const int whole = m.prefix_bits / 8;
  if (std::memcmp(address.data(), m.network.data(), static_cast<size_t>(whole)) != 0) {
    return false;
  }
  const int rest = m.prefix_bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (address[whole] & mask) == (m.network[whole] & mask);
}

bool numeric_matches(const Matcher& m, double n) {
  if (m.has_lower && (m.lower_inclusive ? n < m.lower : n <= m.lower)) return false;
  if (m.has_upper && (m.upper_inclusive ? n > m.upper : n >= m.upper)) return false;
  return true;
}

// Whether one leaf value (a string, number, boolean or null) satisfies the matcher.
bool value_matches(const Matcher& m, const json& leaf) {
  using Kind = Matcher::Kind;
  if (m.kind == Kind::kExact) return same_value(m.value, leaf);
  if (m.kind == Kind::kAnythingBut) {
    return std::none_of(m.excluded.begin(), m.excluded.end(),
                        [&](const Matcher& x) { return value_matches(x, leaf); });
  }
  if (m.kind == Kind::kNumeric) return leaf.is_number() && numeric_matches(m, leaf.get<double>());
  if (!leaf.is_string()) return false;  // the rest match strings only
  const auto& text = leaf.get_ref<const std::string&>();
  switch (m.kind) {
    case Kind::kPrefix:
      return text.size() >= m.text.size() &&
             same_text(std::string_view(text).substr(0, m.text.size()), m.text, m.ignore_case);
    case Kind::kSuffix:
      return text.size() >= m.text.size() &&
             same_text(std::string_view(text).substr(text.size() - m.text.size()), m.text,
                       m.ignore_case);
    case Kind::kEqualsIgnoreCase:
      return same_text(text, m.text, true);
    case Kind::kWildcard:
      return wildcard_matches(m.pieces, text);
    case Kind::kCidr:
      return cidr_matches(m, text);
    default:
      return false;
  }
}

// The values of a field that are scalars (want_objects false) or objects (true): the value
// itself, or an array's elements at any depth (arrays are "crushed"). Iterative, so a
// deeply nested record cannot exhaust the stack.
std::vector<const json*> elements_of(const json& value, bool want_objects) {
  std::vector<const json*> found;
  std::vector<const json*> pending{&value};
  while (!pending.empty()) {
    const json* v = pending.back();
    pending.pop_back();
    if (v->is_array()) {
      for (auto it = v->rbegin(); it != v->rend(); ++it) pending.push_back(&*it);
    } else if (v->is_object() == want_objects) {
      found.push_back(v);
    }
  }
  return found;
}

bool leaf_matches(const std::vector<Matcher>& matchers, const json* value) {
  // Only scalars are leaves: an object is not a value of this field.
  const std::vector<const json*> leaves =
      value ? elements_of(*value, false) : std::vector<const json*>{};
  for (const Matcher& m : matchers) {
    if (m.kind == Matcher::Kind::kExists) {
      if (m.exists != leaves.empty()) return true;
      continue;
    }
    for (const json* leaf : leaves) {
      if (value_matches(m, *leaf)) return true;
    }
  }
  return false;
}

bool nested_matches(const Node& node, const json* value) {
  if (value == nullptr) return matches_node(node, nullptr);
  if (value->is_object()) return matches_node(node, value);
  if (value->is_array()) {
    for (const json* element : elements_of(*value, true)) {
      if (matches_node(node, element)) return true;
    }
  }
  // A scalar where the pattern wants an object: Lambda drops a plain-string body or data
  // that a JSON pattern filters.
  return false;
}

}  // namespace

bool matches_node(const Node& node, const json* object) {
  for (const Field& field : node.fields) {
    const json* value = nullptr;
    if (object != nullptr && object->is_object()) {
      const auto it = object->find(field.name);
      if (it != object->end()) value = &*it;
    }
    const bool ok =
        field.nested ? nested_matches(*field.nested, value) : leaf_matches(field.matchers, value);
    if (!ok) return false;
  }
  if (node.any_of.empty()) return true;
  return std::any_of(node.any_of.begin(), node.any_of.end(),
                     [&](const Node& alternative) { return matches_node(alternative, object); });
}

}  // namespace filter_detail

namespace {

// The JSON a text holds, or nullopt when it is not JSON.
std::optional<nlohmann::json> parsed_json(std::string_view text) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

}  // namespace

nlohmann::json filterable_view(const nlohmann::json& record, SourceKind kind) {
  if (!record.is_object()) return record;
  if (kind == SourceKind::kQueue) {
    nlohmann::json view = record;
    const auto body = view.find("body");
    if (body != view.end() && body->is_string()) {
      if (auto parsed = parsed_json(body->get_ref<const std::string&>())) *body = *parsed;
    }
    return view;
  }
  nlohmann::json view = nlohmann::json::object();
  for (const auto& [name, value] : record.items()) {
    if (name != "kinesis") view[name] = value;
  }
  const auto kinesis = record.find("kinesis");
  if (kinesis == record.end() || !kinesis->is_object()) return view;
  for (const auto& [name, value] : kinesis->items()) view[name] = value;
  const auto data = view.find("data");
  if (data != view.end() && data->is_string()) {
    if (auto bytes = base64_decode(data->get_ref<const std::string&>())) {
      if (auto parsed = parsed_json(*bytes)) *data = *parsed;
    }
  }
  return view;
}

}  // namespace ember::host
