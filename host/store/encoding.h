// Base64 (RFC 4648, with padding) and lower-case hex, as the Lambda API uses them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ember::host {

std::string base64_encode(std::string_view bytes);
// The decoded bytes, or nullopt when text is not canonical padded base64 (length a multiple
// of 4, only the standard alphabet, '=' only at the end).
std::optional<std::string> base64_decode(std::string_view text);

std::string hex_encode(std::string_view bytes);
// The bytes, or nullopt when text has an odd length or a character that is not a hex digit.
std::optional<std::string> hex_decode(std::string_view text);

}  // namespace ember::host
