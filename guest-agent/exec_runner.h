// run_exec: one exec request run to completion in its own process group.
#pragma once

#include "common/agent_protocol.h"
#include "common/result.h"
#include "guest-agent/child_reaper.h"
#include "guest-agent/process_spawn.h"

namespace ember::agent {

// Runs request.argv with exactly request.env (plus PATH if absent) in request.cwd, in a new
// process group. stdin gets request.stdin_data then EOF; each output stream keeps its first
// min(output_cap, kMaxExecOutputCap) bytes and the rest is read and dropped (flagged
// truncated). When timeout_ms passes, the whole group gets SIGKILL and timed_out is set.
// Once the process has exited, output still held open by its background children is read
// for a short grace period, then the result is returned without waiting for them.
// The process must ignore SIGPIPE (the agent does), since stdin may close early.
// Errors: empty argv, NUL bytes in strings, program not found, chdir/exec failures.
Result<ExecResult> run_exec(ChildReaper& reaper, const ExecRequest& request);

}  // namespace ember::agent
