// sweep_leftovers: processes found by their command lines, cgroups, sockets, snapshots.
#include "host/runtime/leftovers.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

namespace ember::host {
namespace {

namespace fs = std::filesystem;

// The NUL-separated arguments of /proc/<pid>/cmdline; empty for kernel threads or a
// process already gone.
std::vector<std::string> command_line(const fs::path& proc_dir) {
  std::ifstream in(proc_dir / "cmdline", std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t start = 0; start < raw.size();) {
    const size_t end = raw.find('\0', start);
    args.push_back(raw.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return args;
}

bool is_vmm_of(const std::vector<std::string>& args, const std::string& state_dir) {
  if (args.empty()) return false;
  const std::string name = fs::path(args[0]).filename().string();
  if (name != "ember-vmm" && name != "ember-jailer") return false;
  const std::string prefix = state_dir + "/";
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i].starts_with(prefix)) return true;
  }
  return false;
}

// Gone, or a zombie waiting for a reaper that is not us.
bool exited(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

int kill_vmms_of(const std::string& state_dir) {
  std::vector<pid_t> killed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    if (pid == ::getpid() || !is_vmm_of(command_line(entry.path()), state_dir)) continue;
    if (::kill(pid, SIGKILL) == 0) killed.push_back(pid);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (pid_t pid : killed) {
    while (!exited(pid) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return static_cast<int>(killed.size());
}

int remove_empty_vm_cgroups(const std::string& cgroup_root) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cgroup_root + "/ember", ec)) {
    if (!entry.path().filename().string().starts_with("vm-")) continue;
    // A cgroup whose processes were just killed may take a moment to empty.
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (::rmdir(entry.path().c_str()) == 0) {
        ++removed;
        break;
      }
      if (errno != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  return removed;
}

Result<int> empty_directory(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    removed += static_cast<int>(fs::remove_all(entry.path(), ec));
    if (ec) return make_error("remove leftover", entry.path().string() + ": " + ec.message());
  }
  return removed;
}

bool is_temporary(const std::string& name) {
  return name.find(".tmp-") != std::string::npos || name.find(".tmp.") != std::string::npos;
}

// <snapshots>/<function>/<revision>/: temporary files, and revisions without a state.bin.
Result<int> remove_unfinished_snapshots(const std::string& snapshots) {
  int removed = 0;
  std::error_code list_ec;
  for (const auto& function : fs::directory_iterator(snapshots, list_ec)) {
    if (!function.is_directory()) continue;
    for (const auto& revision : fs::directory_iterator(function.path(), list_ec)) {
      if (!revision.is_directory()) continue;
      std::error_code ec;
      if (!fs::exists(revision.path() / "state.bin")) {
        removed += static_cast<int>(fs::remove_all(revision.path(), ec));
      } else {
        for (const auto& file : fs::directory_iterator(revision.path(), list_ec)) {
          if (is_temporary(file.path().filename().string())) {
            removed += static_cast<int>(fs::remove(file.path(), ec));
          }
        }
      }
      if (ec) {
        return make_error("remove unfinished snapshot",
                          revision.path().string() + ": " + ec.message());
      }
    }
  }
  return removed;
}

}  // namespace

std::string SweptLeftovers::describe() const {
  auto count = [](int n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  return count(processes, "VMM process", "VMM processes") + ", " +
         count(cgroups, "cgroup", "cgroups") + " and " + count(files, "file", "files");
}

Result<SweptLeftovers> sweep_leftovers(const std::string& state_dir,
                                       const std::string& cgroup_root) {
  SweptLeftovers swept;
  swept.processes = kill_vmms_of(state_dir);
  swept.cgroups = remove_empty_vm_cgroups(cgroup_root);
  EMBER_TRY(int sockets, empty_directory(state_dir + "/runtime/run"));
  EMBER_TRY(int snapshots, remove_unfinished_snapshots(state_dir + "/runtime/snapshots"));
  swept.files = sockets + snapshots;
  return swept;
}

}  // namespace ember::host
