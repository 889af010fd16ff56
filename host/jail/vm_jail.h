// VmJails: emberd's side of the jail. Each VMM gets a directory <base>/<n> with its root
// (root/, what the VMM sees as /) and its writable run directory (run/: sockets, snapshot
// output), a uid of its own, and an ember-jailer command line around its ember-vmm one.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "host/jail/jail_args.h"
#include "host/jail/jail_options.h"
#include "host/jail/uid_pool.h"

namespace ember::host::jail {

// How much one jailed VMM may use.
struct JailLimits {
  uint64_t nofile = 256;        // ember-vmm opens ~20 + 2 per vCPU + 4 per virtqueue device
  uint64_t fsize = 64ull << 20;  // the largest file it writes (a snapshot's memory.bin)
  uint64_t nproc = 64;           // its threads: up to 32 vCPUs, the event loop, control
};

class VmJails;

// One VMM's jail directory and uid; removes the directory and gives the uid back when
// destroyed, which must be after the VMM is reaped (its mounts live in its own mount
// namespace, so only plain files and directories are left to remove).
class VmJail {
 public:
  VmJail(VmJail&& other) noexcept;
  VmJail& operator=(VmJail&&) = delete;
  VmJail(const VmJail&) = delete;
  ~VmJail();

  uid_t uid() const { return uid_.uid(); }
  const std::string& dir() const { return dir_; }
  std::string root() const { return dir_ + "/root"; }
  std::string run_dir() const { return dir_ + "/run"; }

  // Makes path (a file, or a directory's files) appear inside the root at the same path,
  // as hard links: owner and mode stay, so the VMM reads but cannot change them. path
  // must be on the jail's file system (everything under emberd's state dir is).
  Status expose(const std::string& path) const;

 private:
  friend class VmJails;
  VmJail(std::string dir, UidLease uid, std::vector<std::string> bound)
      : dir_(std::move(dir)), uid_(std::move(uid)), bound_(std::move(bound)) {}
  std::string dir_;
  UidLease uid_;
  std::vector<std::string> bound_;  // JailOptions::always_ro: bind-mounted, never linked
};

class VmJails {
 public:
  // Checks the jailer exists, empties and creates options.base_dir (0700).
  static Result<std::shared_ptr<VmJails>> create(JailOptions options);

  // A fresh jail directory (root/ empty, run/ owned by its uid, 0700) and uid.
  Result<VmJail> prepare();

  // `ember-jailer ... -- vmm_argv`: vmm_argv[0] made absolute and bound read-only, the
  // files vmm_paths names, always_ro and extra_ro read-only, the run dir read-write, the
  // network namespace joined and the tap (fd 3) kept when netns is not empty.
  Result<std::vector<std::string>> command(const VmJail& jail, std::vector<std::string> vmm_argv,
                                           const std::string& netns, const JailLimits& limits,
                                           const std::vector<std::string>& extra_ro = {}) const;

  const JailOptions& options() const { return options_; }

 private:
  explicit VmJails(JailOptions options, std::shared_ptr<UidPool> uids)
      : options_(std::move(options)), uids_(std::move(uids)) {}
  const JailOptions options_;
  const std::shared_ptr<UidPool> uids_;
  std::atomic<uint64_t> counter_{0};
};

// Whether this host can jail VMMs: root (the jailer needs CAP_SYS_ADMIN and the like).
bool can_jail();

// Owns dir and everything below by root and makes it read-only for the VMMs: files 0644,
// directories 0755. For a snapshot a jailed VMM wrote, before other VMMs (other uids,
// or a later VM with the same uid) restore it.
Status seal_for_vmms(const std::string& dir);

}  // namespace ember::host::jail
