// monotonic_ns: CLOCK_MONOTONIC in nanoseconds, for durations and deadlines in the agent.
#pragma once

#include <time.h>

#include <cstdint>

namespace ember::agent {

inline uint64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

}  // namespace ember::agent
