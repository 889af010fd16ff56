// VmmConfig: everything ember-vmm is told on its command line, and the flag parser.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/logger.h"
#include "vmm/seccomp/mode.h"

namespace ember::vmm {

// Process exit codes (docs/vmm-interfaces.md).
enum class ExitCode : int {
  kGuestShutdown = 0,  // the guest rebooted through the i8042 reset line
  kVmmError = 1,
  kUsage = 2,
  kGuestCrash = 3,  // kernel panic on the serial line, or a triple fault
};

struct DiskConfig {
  std::string path;
  bool read_only = false;
};

inline constexpr uint64_t kMinMemMib = 16;
inline constexpr uint64_t kMaxMemMib = 1024 * 1024;
inline constexpr uint32_t kDefaultVsockCid = 3;
// The guest's eth0 MAC unless --net-mac says otherwise: the same in every VM, so clones
// of one snapshot need no change inside the guest (docs/vmm-interfaces.md).
inline constexpr std::array<uint8_t, 6> kDefaultNetMac = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02};

struct VmmConfig {
  std::string kernel;
  std::string initrd;              // empty: none
  std::optional<DiskConfig> root;  // /dev/vda, always read-only
  std::vector<DiskConfig> disks;   // /dev/vdb, ...
  uint64_t mem_mib = 128;
  uint32_t vcpus = 1;
  uint32_t vsock_cid = kDefaultVsockCid;
  std::string vsock_uds;  // empty: no vsock device
  std::string cmdline_extra;
  bool console = false;
  LogLevel log_level = LogLevel::kWarn;
  std::string api_sock;  // empty: no control socket
  // --net-fd: an inherited tap opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, backing the
  // virtio-net device (the last virtio slot); not owned here. -1: no network device.
  int net_fd = -1;
  std::array<uint8_t, 6> net_mac = kDefaultNetMac;
  // --netns: the network namespace run() joins before anything else; empty: stay put.
  std::string netns;
  // --restore DIR: the VM comes from a snapshot; `kernel` and the machine shape are unused
  // and restore_disks (raw --disk specs, possibly empty) replace the snapshot's disks.
  std::string restore_dir;
  std::vector<std::string> restore_disks;
  bool start_paused = false;
  // --standby: create the KVM VM, then wait on api_sock for one {"op":"restore",...}
  // request (vmm_standby.cc), so a restore skips exec and start-up.
  bool standby = false;
  // --standby-timeout: a standby VMM no request claimed within this long exits (0: waits
  // as long as its parent lives).
  std::chrono::seconds standby_timeout{0};
  // --lifeline-fd: an inherited pipe's read end whose write end only the parent holds; when
  // it reports hang-up the parent is gone and the VMM stops (its guest with it). -1: none.
  int lifeline_fd = -1;
  // --seccomp: what each thread's filter does with a call outside its list (kill, log),
  // or no filters (off). vmm/seccomp/thread_filters.h has the roles and their order.
  seccomp::Mode seccomp = seccomp::Mode::kKill;
  // --test-forbidden-syscall-on-vcpu (tests only): vCPU 0 makes a system call its filter
  // forbids as soon as it has loaded it.
  bool test_forbidden_syscall_on_vcpu = false;
  // When main() started; the "first KVM_RUN after N us" line is measured from here.
  std::chrono::steady_clock::time_point start_time = std::chrono::steady_clock::now();
};

struct ParsedFlags {
  bool help = false;  // --help was given: print usage_text() and exit 0
  VmmConfig config;
};

// Parses argv. Any unknown, malformed, missing or out-of-range flag is an error whose
// message is meant for the user (exit code kUsage).
Result<ParsedFlags> parse_flags(int argc, const char* const argv[]);

// "PATH", "PATH:ro" or "PATH:rw" (the default is read-write).
Result<DiskConfig> parse_disk_spec(const std::string& spec);

// "XX:XX:XX:XX:XX:XX" (hex, either case) naming a unicast address.
Result<std::array<uint8_t, 6>> parse_mac(const std::string& text);
// Lower-case "xx:xx:xx:xx:xx:xx".
std::string format_mac(const std::array<uint8_t, 6>& mac);

// The --help text: every flag with its meaning and default.
std::string usage_text();

}  // namespace ember::vmm
