// IPv4 addresses as host-byte-order integers: dotted-quad parsing and formatting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ember::host::net {

// "a.b.c.d" (four decimal octets, no leading zeros beyond "0") as 0xaabbccdd; nullopt
// for anything else.
std::optional<uint32_t> parse_ipv4(std::string_view text);

std::string format_ipv4(uint32_t address);
// "a.b.c.d/len".
std::string format_cidr(uint32_t address, uint8_t prefix_len);

// The netmask of a prefix length 0..32, e.g. 24 -> 0xffffff00.
constexpr uint32_t prefix_mask(uint8_t prefix_len) {
  return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len);
}

constexpr uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d;
}

}  // namespace ember::host::net
