// JailOptions: whether and how emberd jails its VMMs (--jail, --jail-uids, --jailer).
#pragma once

#include <string>
#include <vector>

#include "host/jail/uid_pool.h"

namespace ember::host::jail {

struct JailOptions {
  bool enabled = false;
  std::string jailer_path;  // empty: ember-jailer beside the running executable
  UidRange uids;
  std::string base_dir;     // emptied at start: one directory per live VMM
  // Bound read-only into every jail as it is made (a standby VMM does not know its
  // function yet): the guest root image, on a file system the state dir may not share.
  std::vector<std::string> always_ro;
};

}  // namespace ember::host::jail
