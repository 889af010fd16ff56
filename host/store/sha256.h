// SHA-256 of a byte string, through OpenSSL's libcrypto.
#pragma once

#include <string>
#include <string_view>

namespace ember::host {

// The 32-byte digest.
std::string sha256(std::string_view bytes);

}  // namespace ember::host
