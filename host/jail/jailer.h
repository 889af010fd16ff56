// run_jailer: the privileged sequence of ember-jailer, ending in the exec of the VMM.
#pragma once

#include "common/result.h"
#include "host/jail/jail_args.h"

namespace ember::host::jail {

// Exit code of ember-jailer when a jail step fails (the step is on stderr).
inline constexpr int kJailStepFailed = 126;

// Runs, in this order: close every descriptor but 0-2 and args.keep_fds; rlimits (NOFILE,
// FSIZE, CORE 0, NPROC); every mount private; join args.netns; build args.root (itself a
// bind mount, the bound paths at their own absolute paths, /dev with only kvm owned by
// args.uid, a fresh /proc) and pivot_root into it, the old root detached; hostname;
// setgroups(0), setresgid, setresuid; every capability dropped (bounding set, ambient,
// effective, permitted, inheritable); no_new_privs; execve of args.command with an empty
// environment. Expects to run as root in fresh mount, PID, IPC and UTS namespaces (emberd
// clones it so). Returns only on failure, naming the step.
Status run_jailer(const JailerArgs& args);

}  // namespace ember::host::jail
