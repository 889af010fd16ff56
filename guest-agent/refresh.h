// Refresh after a snapshot restore: fresh entropy into the kernel RNG and the wall clock set.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/agent_protocol.h"
#include "common/result.h"

namespace ember::agent {

// The two machine-wide actions of a Refresh, injectable so that the Unix-socket test mode
// (neither root-capable nor the guest's PID 1) can exercise the message flow.
struct RefreshActions {
  std::function<Status(std::string_view entropy)> add_entropy;
  std::function<Status(uint64_t unix_time_ns)> set_clock;
  // Not empty: each Refresh is also appended here as
  // "entropy=<hex> unix_time_ns=<n> prefetch_pages=<n>\n", so host tests can check what
  // arrived.
  std::string record_path;
  // When set, the session server gives it the Refresh's prefetch runs once it has sent the
  // RefreshAck (ember-agent as PID 1 starts its PagePrefetcher with them; with a record_path,
  // "prefetch pages=<n>\n" is appended there instead).
  std::function<void(std::vector<GuestPageRun>)> prefetch;
};

// How a Refresh is carried out (ember-agent --refresh MODE in test mode).
enum class RefreshMode {
  kSystem,     // the real thing (PID 1): RNDADDENTROPY + RNDRESEEDCRNG, clock_settime
  kSkip,       // acknowledge without touching the machine (test-mode default)
  kFailRng,    // the RNG action fails (tests the error reply)
  kFailClock,  // the clock action fails
};

// Parses "system", "skip", "fail-rng" or "fail-clock".
Result<RefreshMode> parse_refresh_mode(std::string_view text);

// Credits `entropy` to the kernel's input pool through /dev/urandom (RNDADDENTROPY, 8 bits
// per byte), then forces a CRNG reseed (RNDRESEEDCRNG) so that getrandom() output differs
// between clones at once rather than at the next scheduled reseed. Needs CAP_SYS_ADMIN.
Status add_kernel_entropy(std::string_view entropy);
// Sets CLOCK_REALTIME. Needs CAP_SYS_TIME.
Status set_realtime_clock(uint64_t unix_time_ns);

// The actions for a mode, recording to record_path when it is not empty.
RefreshActions refresh_actions(RefreshMode mode, std::string record_path = {});

// Runs both actions (the entropy first, then the clock, even when the entropy failed) and
// answers RefreshAck, or an ErrorReply naming each action that failed.
AgentMessage handle_refresh(const Refresh& refresh, const RefreshActions& actions);

}  // namespace ember::agent
