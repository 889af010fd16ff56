// The seccomp filter of each ember-vmm thread role, and the order they are loaded in.
//
// Roles: the main thread while it starts up (flags to a built or restored VM, or a
// standby VMM waiting for its restore request), each vCPU thread, and the main thread
// once it runs the event loop (virtio devices and the control socket).
//
// Filters are inherited by threads started after a load and stack with the thread's own
// (a call must pass all of them), so the order is:
//  1. All three are built (below) before any is loaded: a filter that cannot be built is
//     reported while the process is still unfiltered.
//  2. run() loads `startup` on the main thread while it is the only thread, right after
//     joining --netns. It allows everything the other two do (startup_rules() is their
//     union plus its own calls), and creating threads.
//  3. Each vCPU thread, started under `startup`, loads `vcpu` before its first KVM_RUN:
//     it then has startup ∩ vcpu = vcpu.
//  4. The main thread loads `event_loop` once every vCPU thread has been started and
//     before the loop runs: it has startup ∩ event_loop = event_loop, which cannot start
//     threads. Threads started earlier do not inherit it.
// So every thread shows "Seccomp: 2" in /proc/PID/task/TID/status, with two filters each.
#pragma once

#include <sys/types.h>

#include <vector>

#include "common/result.h"
#include "vmm/seccomp/filter.h"
#include "vmm/seccomp/mode.h"

namespace ember::vmm::seccomp {

// The rules of each role for this process (tgkill is allowed only towards getpid(), so
// build after any fork). startup_rules() holds every rule of the other two.
std::vector<Rule> vcpu_rules(pid_t pid);
std::vector<Rule> event_loop_rules(pid_t pid);
std::vector<Rule> startup_rules(pid_t pid);

// Each role's filter with mode's default action, built for this process.
Result<Filter> startup_filter(Mode mode);
Result<Filter> vcpu_filter(Mode mode);
Result<Filter> event_loop_filter(Mode mode);

// The three compiled, ready to load in the order above. mode must be kKill or kLog.
struct ThreadFilters {
  Program startup;
  Program vcpu;
  Program event_loop;

  static Result<ThreadFilters> build(Mode mode);
};

// For --test-forbidden-syscall-on-vcpu: opens /proc/self/status, which a vCPU thread may
// not do (no role but startup and event_loop may open files). Under --seccomp kill the
// process dies with SIGSYS here; otherwise the file is closed again.
void make_forbidden_vcpu_syscall();

}  // namespace ember::vmm::seccomp
