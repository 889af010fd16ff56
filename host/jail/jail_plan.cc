// Jail planning: a VMM command line's files, and the bind mounts that show them in the root.
#include "host/jail/jail_plan.h"

#include <algorithm>
#include <map>

namespace ember::host::jail {

BindPaths vmm_paths(const std::vector<std::string>& argv) {
  BindPaths out;
  for (size_t i = 1; i + 1 < argv.size(); ++i) {
    const std::string& flag = argv[i];
    const std::string& value = argv[i + 1];
    if (flag == "--kernel" || flag == "--initrd" || flag == "--root" || flag == "--restore") {
      out.read_only.push_back(value);
      ++i;
    } else if (flag == "--disk") {
      if (value.ends_with(":ro")) {
        out.read_only.push_back(value.substr(0, value.size() - 3));
      } else if (value.ends_with(":rw")) {
        out.read_write.push_back(value.substr(0, value.size() - 3));
      } else {
        out.read_write.push_back(value);
      }
      ++i;
    }
  }
  return out;
}

std::string path_in_root(const std::string& root, const std::string& path) {
  std::string joined = root + "/" + path;
  std::string out;
  for (char c : joined) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::vector<BindMount> plan_binds(const std::string& root, const BindPaths& paths) {
  std::map<std::string, bool> read_only;  // ordered: a parent sorts before its children
  for (const auto& p : paths.read_only) read_only.emplace(path_in_root("/", p), true);
  for (const auto& p : paths.read_write) read_only[path_in_root("/", p)] = false;
  std::vector<BindMount> out;
  for (const auto& [path, ro] : read_only) out.push_back({path, path_in_root(root, path), ro});
  return out;
}

}  // namespace ember::host::jail
