// ember-jailer's steps, in Firecracker's jailer order: fds, rlimits, mounts, pivot_root,
// identity, capabilities, no_new_privs, exec.
#include "host/jail/jailer.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "common/unique_fd.h"
#include "host/jail/jail_plan.h"

namespace ember::host::jail {
namespace {

// /dev/kvm's device number (Documentation/admin-guide/devices.txt: misc 232).
constexpr unsigned kKvmMajor = 10, kKvmMinor = 232;

Status close_other_fds(std::vector<int> keep) {
  keep.push_back(2);
  std::sort(keep.begin(), keep.end());
  unsigned first = 3;
  for (int fd : keep) {
    if (fd < static_cast<int>(first)) continue;
    if (static_cast<unsigned>(fd) > first &&
        ::syscall(SYS_close_range, first, static_cast<unsigned>(fd) - 1, 0) != 0) {
      return errno_error("close inherited descriptors", "close_range");
    }
    first = static_cast<unsigned>(fd) + 1;
  }
  if (::syscall(SYS_close_range, first, ~0u, 0) != 0) {
    return errno_error("close inherited descriptors", "close_range");
  }
  return {};
}

Status set_limit(int resource, uint64_t value, const char* name) {
  rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  if (::setrlimit(resource, &limit) != 0) return errno_error("setrlimit", name);
  return {};
}

Status mkdirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return make_error("create jail directory", path + ": " + ec.message());
  return {};
}

// Binds source at target (made as an empty file or directory, like the source), read-only
// when asked: a bind mount takes MS_RDONLY only on a remount.
Status bind(const std::string& source, const std::string& target, bool read_only) {
  struct stat st;
  if (::stat(source.c_str(), &st) != 0) return errno_error("bind into the jail", source);
  EMBER_CHECK(mkdirs(std::filesystem::path(target).parent_path()));
  if (S_ISDIR(st.st_mode)) {
    EMBER_CHECK(mkdirs(target));
  } else {
    UniqueFd made(::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!made) return errno_error("bind into the jail: create mount point", target);
  }
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return errno_error("bind into the jail", source);
  }
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV;
  if (read_only) flags |= MS_RDONLY;
  if (::mount(nullptr, target.c_str(), nullptr, flags, nullptr) != 0) {
    return errno_error("remount in the jail", target + (read_only ? " read-only" : ""));
  }
  return {};
}

Status build_root(const JailerArgs& a) {
  // Mounts made from here on stay in this namespace: nothing propagates back to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return errno_error("make the mounts private");
  }
  // pivot_root needs the new root to be a mount point.
  if (::mount(a.root.c_str(), a.root.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return errno_error("bind the jail root onto itself", a.root);
  }
  BindPaths paths{a.bind_ro, a.bind_rw};
  paths.read_only.push_back(a.command[0]);  // the VMM binary (static: no libraries)
  for (const BindMount& m : plan_binds(a.root, paths)) {
    EMBER_CHECK(bind(m.source, m.target, m.read_only));
  }
  const std::string dev = path_in_root(a.root, "/dev");
  EMBER_CHECK(mkdirs(dev));
  if (::mount("tmpfs", dev.c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") != 0) {
    return errno_error("mount /dev in the jail", dev);
  }
  const std::string kvm = dev + "/kvm";
  if (::mknod(kvm.c_str(), S_IFCHR | 0600, makedev(kKvmMajor, kKvmMinor)) != 0) {
    return errno_error("mknod /dev/kvm in the jail", kvm);
  }
  if (::chown(kvm.c_str(), a.uid, a.gid) != 0) return errno_error("chown /dev/kvm", kvm);
  if (::mount(nullptr, dev.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
              "size=64k,mode=0755") != 0) {
    return errno_error("remount /dev read-only in the jail", dev);
  }
  // A /proc of the VM's own PID namespace (ember-vmm reads /proc/self/status).
  const std::string proc = path_in_root(a.root, "/proc");
  EMBER_CHECK(mkdirs(proc));
  if (::mount("proc", proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    return errno_error("mount /proc in the jail", proc);
  }
  // ember-vmm refuses to run on a PVM host unless told otherwise: keep what it checks.
  if (::access("/sys/module/kvm_pvm", F_OK) == 0) {
    EMBER_CHECK(bind("/sys/module/kvm_pvm", path_in_root(a.root, "/sys/module/kvm_pvm"), true));
  }
  // The root itself read-only: the VMM writes only where a --bind-rw lets it.
  if (::mount(nullptr, a.root.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID,
              nullptr) != 0) {
    return errno_error("remount the jail root read-only", a.root);
  }
  if (::chdir(a.root.c_str()) != 0) return errno_error("chdir", a.root);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return errno_error("pivot_root", a.root);
  if (::umount2(".", MNT_DETACH) != 0) return errno_error("detach the old root");
  if (::chdir("/") != 0) return errno_error("chdir", "/");
  return {};
}

Status drop_identity(const JailerArgs& a) {
  // The bounding set can only be emptied while CAP_SETPCAP is still held.
  for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (CAP_IS_SUPPORTED(cap) && cap_drop_bound(cap) != 0) {
      return errno_error("drop capability from the bounding set", std::to_string(cap));
    }
  }
  if (cap_reset_ambient() != 0 && errno != EINVAL) return errno_error("clear ambient capabilities");
  if (::setgroups(0, nullptr) != 0) return errno_error("setgroups(0)");
  if (::setresgid(a.gid, a.gid, a.gid) != 0) return errno_error("setresgid", std::to_string(a.gid));
  if (::setresuid(a.uid, a.uid, a.uid) != 0) return errno_error("setresuid", std::to_string(a.uid));
  cap_t none = cap_init();  // every flag of every capability clear
  if (none == nullptr) return errno_error("cap_init");
  const int rc = cap_set_proc(none);
  cap_free(none);
  if (rc != 0) return errno_error("clear capabilities (effective, permitted, inheritable)");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno_error("set no_new_privs");
  return {};
}

}  // namespace

Status run_jailer(const JailerArgs& a) {
  EMBER_CHECK(close_other_fds(a.keep_fds));
  EMBER_CHECK(set_limit(RLIMIT_NOFILE, a.rlimit_nofile, "RLIMIT_NOFILE"));
  EMBER_CHECK(set_limit(RLIMIT_FSIZE, a.rlimit_fsize, "RLIMIT_FSIZE"));
  EMBER_CHECK(set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE"));
  EMBER_CHECK(set_limit(RLIMIT_NPROC, a.rlimit_nproc, "RLIMIT_NPROC"));
  if (!a.netns.empty()) {
    UniqueFd ns(::open(a.netns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return errno_error("open network namespace", a.netns);
    if (::setns(ns.get(), CLONE_NEWNET) != 0) return errno_error("join network namespace", a.netns);
  }
  EMBER_CHECK(build_root(a));
  static const char kHostname[] = "ember-vm";
  if (::sethostname(kHostname, sizeof(kHostname) - 1) != 0) return errno_error("sethostname");
  EMBER_CHECK(drop_identity(a));

  std::vector<char*> argv;
  for (const auto& s : a.command) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  // A clean environment; only ember-vmm's own PVM override passes through.
  std::vector<std::string> env;
  if (const char* pvm = std::getenv("EMBER_ALLOW_PVM")) env.push_back(std::string("EMBER_ALLOW_PVM=") + pvm);
  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  ::execve(argv[0], argv.data(), envp.data());
  return errno_error("exec", a.command[0]);
}

}  // namespace ember::host::jail
