// run_emberd: open the state, start the invoker and listeners, serve until a signal, drain.
#pragma once

#include "host/api/emberd_flags.h"

namespace ember::host {

// Blocks SIGTERM and SIGINT in every thread and waits for them here. On either: stop
// accepting, let in-flight requests finish for up to config.drain_timeout, shut the
// invoker down, return kOk. kError when the state directory, the stores, the invoker or a
// listener cannot be set up (the reason is on stderr).
EmberdExit run_emberd(const EmberdConfig& config);

}  // namespace ember::host
