// Control protocol: one JSON request per line to a ControlTarget, one JSON reply per line.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ember::vmm {

struct ControlStats {
  bool paused = false;
  uint64_t uptime_ms = 0;
  std::map<std::string, uint64_t> exits;  // "io", "mmio", ... -> count
  uint64_t mem_mib = 0;
  uint32_t vcpus = 0;
  // KVM's binary statistics (pf_taken, pf_fixed, exits, ...): the VM's, and the vCPUs'
  // summed; empty where the kernel has none.
  std::map<std::string, uint64_t> kvm_vm, kvm_vcpus;
  // The VMM process's own page faults (getrusage): minor, and major (read from disk).
  uint64_t host_minor_faults = 0, host_major_faults = 0;
};

// What the control socket drives; the Vmm in production, a fake in tests. Called on the
// event loop thread, one request at a time.
class ControlTarget {
 public:
  virtual ~ControlTarget() = default;
  // Returns once every vCPU is out of KVM_RUN and parked.
  virtual Status pause() = 0;
  virtual Status resume() = 0;
  virtual bool paused() const = 0;
  // Only called while paused (the dispatcher checks).
  virtual Status snapshot(const std::string& dir) = 0;
  virtual ControlStats stats() const = 0;
};

// The one request a standby VMM (ember-vmm --standby) takes:
// {"op":"restore","dir":"DIR","vsock_uds":"PATH","disks":["PATH[:ro|:rw]",...],
//  "start_paused":false}. Only "dir" is required; the rest mean what --restore's flags mean.
struct RestoreRequest {
  std::string dir;
  std::string vsock_uds;           // empty: the snapshot's
  std::vector<std::string> disks;  // empty: the snapshot's
  bool start_paused = false;
};
Result<RestoreRequest> parse_restore_request(std::string_view line);

// {"ok":true}, or {"ok":false,"error":"<the error's message>"}.
std::string control_status_reply(const Status& status);

// Parses one request line (without its newline) and runs it on `target`. Never throws:
// malformed JSON, a missing or unknown "op" and failures come back as
// {"ok":false,"error":"..."}. Returns the reply without a trailing newline.
std::string handle_control_request(std::string_view line, ControlTarget& target);

}  // namespace ember::vmm
