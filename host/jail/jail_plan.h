// Jail planning: which paths a VMM command needs bound into its root, and where they go.
#pragma once

#include <string>
#include <vector>

namespace ember::host::jail {

struct BindPaths {
  std::vector<std::string> read_only;
  std::vector<std::string> read_write;
};

// The files an ember-vmm command line opens: --kernel, --initrd, --root and --restore DIR
// read-only; --disk PATH[:ro|:rw] read-write unless ":ro" (the suffix left out). argv[0]
// (the VMM itself) is not included.
BindPaths vmm_paths(const std::vector<std::string>& vmm_argv);

// A path inside the root: root + path, without doubled slashes ("/j/root" + "/a/b").
std::string path_in_root(const std::string& root, const std::string& path);

struct BindMount {
  std::string source;  // the host path
  std::string target;  // the same path under the root
  bool read_only = true;
};

// The bind mounts for paths, parents before children, each path once (read-write wins when
// a path is given both ways).
std::vector<BindMount> plan_binds(const std::string& root, const BindPaths& paths);

}  // namespace ember::host::jail
