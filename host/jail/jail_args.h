// JailerArgs: what ember-jailer is told on its command line, its parser and its formatter.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace ember::host::jail {

// One ember-jailer run: the per-VM root, the identity, what is bound into the root and the
// command exec'd in it (an absolute path; the same paths inside the root as outside).
struct JailerArgs {
  std::string root;        // an existing, empty directory: the VMM's "/"
  uid_t uid = 0;           // non-zero
  gid_t gid = 0;           // non-zero
  std::string netns;       // a network namespace to join first; empty: keep the one given
  std::vector<std::string> bind_ro;  // bound read-only at the same absolute path
  std::vector<std::string> bind_rw;  // bound read-write at the same absolute path
  std::vector<int> keep_fds;         // besides 0, 1 and 2
  uint64_t rlimit_nofile = 256;
  uint64_t rlimit_fsize = 64ull << 20;
  uint64_t rlimit_nproc = 64;
  std::vector<std::string> command;  // argv of what runs jailed, argv[0] absolute
};

// Parses `ember-jailer --root DIR --uid U --gid G ... -- /abs/cmd ARGS...` (argv[0] is
// the jailer's own name). Every error names the flag and what it needs.
Result<JailerArgs> parse_jailer_args(const std::vector<std::string>& argv);

// The command line parse_jailer_args reads back as `args`, argv[0] = jailer_path.
std::vector<std::string> format_jailer_args(const std::string& jailer_path,
                                            const JailerArgs& args);

std::string jailer_usage();

}  // namespace ember::host::jail
