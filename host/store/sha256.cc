// SHA-256 through OpenSSL's one-shot EVP_Digest.
#include "host/store/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace ember::host {

std::string sha256(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    // Only fails when libcrypto cannot allocate: nothing sensible is left to do.
    std::fputs("sha256: EVP_Digest failed\n", stderr);
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace ember::host
