// Dotted-quad IPv4 parsing and formatting.
#include "host/net/ipv4.h"

namespace ember::host::net {

std::optional<uint32_t> parse_ipv4(std::string_view text) {
  uint32_t address = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    size_t digits = 0;
    uint32_t value = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9' && digits < 4) {
      value = value * 10 + static_cast<uint32_t>(text[digits] - '0');
      ++digits;
    }
    if (digits == 0 || digits > 3 || value > 255) return std::nullopt;
    if (digits > 1 && text.front() == '0') return std::nullopt;  // "010" is not decimal 10
    address = address << 8 | value;
    text.remove_prefix(digits);
  }
  if (!text.empty()) return std::nullopt;
  return address;
}

std::string format_ipv4(uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::string format_cidr(uint32_t address, uint8_t prefix_len) {
  std::string out = format_ipv4(address);
  out += '/';  // appended piecewise: GCC 12 warns (-Wrestrict) on "/" + std::string&&
  out += std::to_string(prefix_len);
  return out;
}

}  // namespace ember::host::net
