// sweep_leftovers: what an emberd that died without draining left on its state directory.
#pragma once

#include <string>

#include "common/result.h"

namespace ember::host {

struct SweptLeftovers {
  int processes = 0;  // ember-vmm and ember-jailer processes killed
  int cgroups = 0;    // empty <cgroup_root>/ember/vm-* directories removed
  int files = 0;      // socket files, temporary and half-written snapshot files removed

  bool empty() const { return processes == 0 && cgroups == 0 && files == 0; }
  // "2 VMM processes, 2 cgroups and 5 files"
  std::string describe() const;
};

// Run at start, before any VMM of this emberd exists. Kills every ember-vmm or ember-jailer
// process whose command line names a path under state_dir (an earlier emberd's VMMs; the
// VMMs of other emberds, with other state directories, are left alone) and waits for them
// to go; removes the VM cgroups under <cgroup_root>/ember that are empty (a populated one
// belongs to a live VMM, maybe another emberd's); empties <state_dir>/runtime/run (VM
// sockets); and in <state_dir>/runtime/snapshots removes temporary files (*.tmp-*, *.tmp.*)
// and revision directories without a state.bin (a snapshot whose write never finished).
Result<SweptLeftovers> sweep_leftovers(const std::string& state_dir,
                                       const std::string& cgroup_root);

}  // namespace ember::host
