// Parsing and canonical formatting of egress policies.
#include "host/net/egress_policy.h"

#include <algorithm>
#include <charconv>

#include "host/net/ipv4.h"

namespace ember::host::net {
namespace {

constexpr std::string_view kAcceptedForms =
    "accepted: none, internet, or a comma-separated allowlist of CIDR[:PORT[-PORT]] "
    "(e.g. 203.0.113.0/24,198.51.100.7:443,192.0.2.0/28:8000-8100)";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<uint32_t> parse_number(std::string_view text, uint32_t max) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > max) {
    return std::nullopt;
  }
  return value;
}

Error bad_entry(std::string_view entry, const std::string& why) {
  return make_error("egress policy", "bad entry '" + std::string(entry) + "': " + why + "; " +
                                         std::string(kAcceptedForms));
}

Result<EgressRule> parse_rule(std::string_view entry) {
  EgressRule rule;
  std::string_view cidr = entry, ports;
  if (size_t colon = entry.find(':'); colon != std::string_view::npos) {
    cidr = entry.substr(0, colon);
    ports = entry.substr(colon + 1);
    if (ports.empty()) return bad_entry(entry, "no port after ':'");
  }
  std::string_view address = cidr;
  if (size_t slash = cidr.find('/'); slash != std::string_view::npos) {
    address = cidr.substr(0, slash);
    auto len = parse_number(cidr.substr(slash + 1), 32);
    if (!len) return bad_entry(entry, "the prefix length must be 0 to 32");
    rule.prefix_len = static_cast<uint8_t>(*len);
  }
  auto network = parse_ipv4(address);
  if (!network) return bad_entry(entry, "not an IPv4 address: " + std::string(address));
  if ((*network & ~prefix_mask(rule.prefix_len)) != 0) {
    return bad_entry(entry, "host bits are set; did you mean " +
                                format_ipv4(*network & prefix_mask(rule.prefix_len)) + "/" +
                                std::to_string(rule.prefix_len) + "?");
  }
  rule.network = *network;
  if (!ports.empty()) {
    std::string_view first = ports, last = ports;
    if (size_t dash = ports.find('-'); dash != std::string_view::npos) {
      first = ports.substr(0, dash);
      last = ports.substr(dash + 1);
    }
    auto p = parse_number(first, 65535), q = parse_number(last, 65535);
    if (!p || !q || *p == 0 || *q == 0) return bad_entry(entry, "ports must be 1 to 65535");
    if (*p > *q) return bad_entry(entry, "the port range is reversed");
    rule.port_first = static_cast<uint16_t>(*p);
    rule.port_last = static_cast<uint16_t>(*q);
  }
  return rule;
}

std::string format_rule(const EgressRule& rule) {
  // Appended piecewise: GCC 12 warns (-Wrestrict) on "x" + std::string&&.
  std::string out = format_cidr(rule.network, rule.prefix_len);
  if (rule.all_ports()) return out;
  out += ':';
  out += std::to_string(rule.port_first);
  if (rule.port_last != rule.port_first) {
    out += '-';
    out += std::to_string(rule.port_last);
  }
  return out;
}

}  // namespace

Result<EgressPolicy> parse_egress_policy(std::string_view text) {
  text = trim(text);
  if (text == "none") return EgressPolicy{EgressPolicy::Kind::kNone, {}};
  if (text == "internet") return EgressPolicy{EgressPolicy::Kind::kInternet, {}};
  if (text.empty()) return make_error("egress policy", "empty; " + std::string(kAcceptedForms));
  EgressPolicy policy{EgressPolicy::Kind::kAllowlist, {}};
  size_t entries = 0;
  while (true) {
    size_t comma = text.find(',');
    std::string_view entry = trim(text.substr(0, comma));
    if (entry.empty()) {
      return make_error("egress policy",
                        "an empty entry (two commas in a row, or one at an "
                        "end); " +
                            std::string(kAcceptedForms));
    }
    if (++entries > kMaxAllowlistEntries) {
      return make_error("egress policy", "more than " + std::to_string(kMaxAllowlistEntries) +
                                             " allowlist entries; use wider CIDRs");
    }
    EMBER_TRY(EgressRule rule, parse_rule(entry));
    policy.allow.push_back(rule);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  std::sort(policy.allow.begin(), policy.allow.end());
  policy.allow.erase(std::unique(policy.allow.begin(), policy.allow.end()), policy.allow.end());
  return policy;
}

std::string format_egress_policy(const EgressPolicy& policy) {
  switch (policy.kind) {
    case EgressPolicy::Kind::kNone:
      return "none";
    case EgressPolicy::Kind::kInternet:
      return "internet";
    case EgressPolicy::Kind::kAllowlist:
      break;
  }
  std::vector<EgressRule> rules = policy.allow;
  std::sort(rules.begin(), rules.end());
  rules.erase(std::unique(rules.begin(), rules.end()), rules.end());
  std::string out;
  for (const EgressRule& rule : rules) {
    if (!out.empty()) out += ",";
    out += format_rule(rule);
  }
  return out;
}

}  // namespace ember::host::net
