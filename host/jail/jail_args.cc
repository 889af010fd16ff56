// ember-jailer's flags: a small hand-written parser (the jailer links nothing but libcap).
#include "host/jail/jail_args.h"

#include <cstdlib>

namespace ember::host::jail {
namespace {

Error usage(const std::string& message) { return make_error("usage", message); }

bool parse_u64(const std::string& text, uint64_t& out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  out = v;
  return true;
}

bool absolute(const std::string& path) { return !path.empty() && path.front() == '/'; }

}  // namespace

Result<JailerArgs> parse_jailer_args(const std::vector<std::string>& argv) {
  JailerArgs a;
  bool have_uid = false, have_gid = false;
  size_t i = 1;
  for (; i < argv.size(); ++i) {
    const std::string& flag = argv[i];
    if (flag == "--") {
      ++i;
      break;
    }
    if (i + 1 >= argv.size()) return usage(flag + " needs a value (or is unknown)");
    const std::string& value = argv[++i];
    uint64_t n = 0;
    auto number = [&](uint64_t min, uint64_t max) -> Status {
      if (!parse_u64(value, n) || n < min || n > max) {
        return usage(flag + " must be a number in " + std::to_string(min) + ".." +
                     std::to_string(max) + ", got '" + value + "'");
      }
      return {};
    };
    auto path = [&]() -> Status {
      if (!absolute(value)) return usage(flag + " needs an absolute path, got '" + value + "'");
      if (value.find("/../") != std::string::npos || value.ends_with("/..")) {
        return usage(flag + " must not contain '..': " + value);
      }
      return {};
    };
    if (flag == "--root") {
      EMBER_CHECK(path());
      if (value == "/") return usage("--root must not be / (give the VM's own directory)");
      a.root = value;
    } else if (flag == "--uid" || flag == "--gid") {
      // 0 is root and (uid_t)-1 means "unchanged" to setresuid: neither is a jail identity.
      EMBER_CHECK(number(1, 0xfffffffeull));
      (flag == "--uid" ? a.uid : a.gid) = static_cast<uid_t>(n);
      (flag == "--uid" ? have_uid : have_gid) = true;
    } else if (flag == "--netns") {
      EMBER_CHECK(path());
      a.netns = value;
    } else if (flag == "--bind-ro" || flag == "--bind-rw") {
      EMBER_CHECK(path());
      if (value == "/") return usage(flag + " / would show the whole host");
      (flag == "--bind-ro" ? a.bind_ro : a.bind_rw).push_back(value);
    } else if (flag == "--keep-fd") {
      EMBER_CHECK(number(3, 1 << 20));
      a.keep_fds.push_back(static_cast<int>(n));
    } else if (flag == "--rlimit-nofile") {
      EMBER_CHECK(number(16, 1 << 20));
      a.rlimit_nofile = n;
    } else if (flag == "--rlimit-fsize") {
      EMBER_CHECK(number(0, ~0ull >> 1));
      a.rlimit_fsize = n;
    } else if (flag == "--rlimit-nproc") {
      EMBER_CHECK(number(1, 1 << 22));
      a.rlimit_nproc = n;
    } else {
      return usage("unknown flag " + flag);
    }
  }
  if (a.root.empty()) return usage("--root DIR is required");
  if (!have_uid || !have_gid) return usage("--uid and --gid are required");
  if (i >= argv.size()) return usage("the command to run goes after --");
  a.command.assign(argv.begin() + static_cast<long>(i), argv.end());
  if (!absolute(a.command[0])) {
    return usage("the command must be an absolute path (it is bound into the jail at that "
                 "path), got '" + a.command[0] + "'");
  }
  return a;
}

std::vector<std::string> format_jailer_args(const std::string& jailer_path,
                                            const JailerArgs& a) {
  std::vector<std::string> argv = {jailer_path, "--root", a.root, "--uid", std::to_string(a.uid),
                                   "--gid", std::to_string(a.gid)};
  if (!a.netns.empty()) argv.insert(argv.end(), {"--netns", a.netns});
  for (const auto& p : a.bind_ro) argv.insert(argv.end(), {"--bind-ro", p});
  for (const auto& p : a.bind_rw) argv.insert(argv.end(), {"--bind-rw", p});
  for (int fd : a.keep_fds) argv.insert(argv.end(), {"--keep-fd", std::to_string(fd)});
  argv.insert(argv.end(), {"--rlimit-nofile", std::to_string(a.rlimit_nofile), "--rlimit-fsize",
                           std::to_string(a.rlimit_fsize), "--rlimit-nproc",
                           std::to_string(a.rlimit_nproc), "--"});
  argv.insert(argv.end(), a.command.begin(), a.command.end());
  return argv;
}

std::string jailer_usage() {
  return "Usage: ember-jailer --root DIR --uid U --gid G [--netns PATH] [--bind-ro PATH]...\n"
         "                    [--bind-rw PATH]... [--keep-fd N]... [--rlimit-nofile N]\n"
         "                    [--rlimit-fsize BYTES] [--rlimit-nproc N] -- /abs/cmd ARGS...\n\n"
         "Runs cmd jailed (as root, in the new mount, PID, IPC and UTS namespaces it was\n"
         "started in): every descriptor but 0-2 and --keep-fd closed, an empty environment,\n"
         "rlimits (CORE 0), the mounts private, pivot_root into DIR holding only the bound\n"
         "paths (at their own absolute paths), /dev/kvm and /proc, --netns joined, uid/gid\n"
         "U/G with no supplementary groups, every capability dropped, no_new_privs set.\n"
         "Exit codes: what cmd returns; 125 usage, 126 a jail step failed (on stderr).\n";
}

}  // namespace ember::host::jail
