// random_uuid from the kernel's random source.
#include "host/api/uuid.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace ember::host {

std::string random_uuid() {
  uint8_t b[16];
  size_t filled = 0;
  while (filled < sizeof b) {
    const ssize_t n = ::getrandom(b + filled, sizeof b - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // getrandom only fails before the pool is ready at boot, which emberd runs long after.
      std::perror("random_uuid: getrandom");
      std::abort();
    }
    filled += static_cast<size_t>(n);
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char text[37];
  std::snprintf(text, sizeof text,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return text;
}

}  // namespace ember::host
