// spawn_process: fork/exec through the ChildReaper into a new process group, exec failures
// reported back to the caller.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "guest-agent/child_reaper.h"
#include "guest-agent/sandbox_user.h"

namespace ember::agent {

// PATH used for the lookup (and given to the process) when the request's env has none.
inline constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct Pipe {
  UniqueFd read, write;
};
// Both ends O_CLOEXEC.
Result<Pipe> make_pipe();

// A regular file this process may execute.
bool is_executable_file(const std::string& path);

// argv[0] as execve() will need it: names with a '/' stay as they are (relative ones resolve
// against cwd after the child's chdir), others are looked up in `path` (a PATH value).
Result<std::string> resolve_program(const std::string& name, std::string_view path,
                                    const std::string& cwd);

struct SpawnSpec {
  std::string program;  // the path given to execve()
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "KEY=VALUE": the whole environment
  std::string cwd = "/";
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // become fds 0, 1 and 2
  // When >= 0: an open cgroup.procs file the child writes "0" to before exec, so that the
  // process and everything it forks are accounted in that cgroup. A failed write is ignored.
  int cgroup_procs_fd = -1;
  // Set: after joining the cgroup, the child drops every supplementary group, then takes the
  // gid, then the uid (each as real, effective and saved id) and sets no_new_privs, so
  // set-user-ID files cannot raise it back; then chdir and exec are checked as that user.
  // Unset: it keeps the agent's own credentials.
  std::optional<Credentials> drop_to;
};

inline constexpr const char* kDropPrivilegesOp = "exec: drop privileges";

// Forks through the reaper; the child resets its signal mask and SIGPIPE, becomes leader of
// a new process group, sets up stdio, drops its privileges (spec.drop_to), changes to cwd and
// execs. Returns once execve() succeeded. Errors name the failed stage with the child's errno
// ("exec: chdir '<cwd>'", "exec '<program>'", "exec: set up stdio", or kDropPrivilegesOp
// with the call that failed); the child is then forgotten (and reaped).
// Strings with NUL bytes must be rejected by the caller.
Result<ChildReaper::Child> spawn_process(ChildReaper& reaper, const SpawnSpec& spec);

}  // namespace ember::agent
