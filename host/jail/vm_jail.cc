// VmJails: jail directories, uids and ember-jailer command lines for emberd's VMMs.
#include "host/jail/vm_jail.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "host/jail/jail_plan.h"
#include "host/vm_client.h"

namespace ember::host::jail {
namespace fs = std::filesystem;

namespace {

std::string default_jailer() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "ember-jailer";
  return (self.parent_path() / "ember-jailer").string();
}

}  // namespace

bool can_jail() { return ::geteuid() == 0; }

VmJail::VmJail(VmJail&& other) noexcept
    : dir_(std::exchange(other.dir_, {})),
      uid_(std::move(other.uid_)),
      bound_(std::move(other.bound_)) {}

VmJail::~VmJail() {
  if (dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);  // no mounts here: they are in the VMM's own namespace
}

Status VmJail::expose(const std::string& path) const {
  // Bound by the jailer itself, which may still be making the root (a standby VMM just
  // spawned): nothing to link, and its placeholder may not exist yet.
  if (std::find(bound_.begin(), bound_.end(), path) != bound_.end()) return {};
  std::error_code ec;
  auto link_one = [&](const fs::path& file) -> Status {
    const fs::path target = path_in_root(root(), file.string());
    fs::create_directories(target.parent_path(), ec);
    if (ec) return make_error("jail: expose " + file.string(), ec.message());
    if (::link(file.c_str(), target.c_str()) != 0 && errno != EEXIST) {
      return errno_error("jail: hard-link " + file.string() + " into " + root(),
                         errno == EXDEV ? "it must be on the file system of emberd's state "
                                          "directory"
                                        : "");
    }
    return {};
  };
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (entry.is_regular_file()) EMBER_CHECK(link_one(entry.path()));
    }
    if (ec) return make_error("jail: expose " + path, ec.message());
    return {};
  }
  return link_one(path);
}

Result<std::shared_ptr<VmJails>> VmJails::create(JailOptions options) {
  if (options.jailer_path.empty()) options.jailer_path = default_jailer();
  EMBER_TRY(options.jailer_path, find_executable(options.jailer_path));
  if (::access(options.jailer_path.c_str(), X_OK) != 0) {
    return errno_error("jail", "ember-jailer " + options.jailer_path +
                                   " cannot be run; build it (ninja ember-jailer) or give "
                                   "--jail off");
  }
  if (options.base_dir.empty()) return make_error("jail", "no directory for the jails given");
  std::error_code ec;
  fs::remove_all(options.base_dir, ec);  // stale jails of an earlier emberd
  fs::create_directories(options.base_dir, ec);
  if (ec) return make_error("jail", options.base_dir + ": " + ec.message());
  ::chmod(options.base_dir.c_str(), 0700);
  auto uids = UidPool::create(options.uids);
  return std::shared_ptr<VmJails>(new VmJails(std::move(options), std::move(uids)));
}

Result<VmJail> VmJails::prepare() {
  EMBER_TRY(UidLease uid, uids_->acquire());
  VmJail jail(options_.base_dir + "/" + std::to_string(counter_++), std::move(uid),
              options_.always_ro);
  std::error_code ec;
  fs::remove_all(jail.dir(), ec);
  if (::mkdir(jail.dir().c_str(), 0700) != 0) return errno_error("jail: mkdir", jail.dir());
  if (::mkdir(jail.root().c_str(), 0755) != 0) return errno_error("jail: mkdir", jail.root());
  if (::mkdir(jail.run_dir().c_str(), 0700) != 0 ||
      ::chown(jail.run_dir().c_str(), jail.uid(), jail.uid()) != 0) {
    return errno_error("jail: make the VMM's run directory", jail.run_dir());
  }
  return jail;
}

Result<std::vector<std::string>> VmJails::command(const VmJail& jail,
                                                  std::vector<std::string> vmm_argv,
                                                  const std::string& netns,
                                                  const JailLimits& limits,
                                                  const std::vector<std::string>& extra_ro) const {
  if (vmm_argv.empty()) return make_error("jail", "no VMM command");
  EMBER_TRY(vmm_argv[0], find_executable(vmm_argv[0]));
  JailerArgs a;
  a.root = jail.root();
  a.uid = jail.uid();
  a.gid = jail.uid();
  a.netns = netns;
  const BindPaths paths = vmm_paths(vmm_argv);
  a.bind_ro = paths.read_only;
  a.bind_ro.insert(a.bind_ro.end(), options_.always_ro.begin(), options_.always_ro.end());
  a.bind_ro.insert(a.bind_ro.end(), extra_ro.begin(), extra_ro.end());
  a.bind_rw = paths.read_write;
  a.bind_rw.push_back(jail.run_dir());
  if (!netns.empty()) a.keep_fds.push_back(kChildNetFd);
  a.keep_fds.push_back(kChildLifelineFd);  // spawn_vmm gives every VMM its lifeline
  a.rlimit_nofile = limits.nofile;
  a.rlimit_fsize = limits.fsize;
  a.rlimit_nproc = limits.nproc;
  a.command = std::move(vmm_argv);
  return format_jailer_args(options_.jailer_path, a);
}

Status seal_for_vmms(const std::string& dir) {
  std::error_code ec;
  auto seal = [](const fs::path& p, mode_t mode) -> Status {
    if (::lchown(p.c_str(), 0, 0) != 0) return errno_error("seal snapshot", p.string());
    if (::chmod(p.c_str(), mode) != 0) return errno_error("seal snapshot", p.string());
    return {};
  };
  EMBER_CHECK(seal(dir, 0755));
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (entry.is_symlink()) return make_error("seal snapshot", entry.path().string() + " is a symlink");
    EMBER_CHECK(seal(entry.path(), entry.is_directory() ? 0755 : 0644));
  }
  if (ec) return make_error("seal snapshot", dir + ": " + ec.message());
  return {};
}

}  // namespace ember::host::jail
