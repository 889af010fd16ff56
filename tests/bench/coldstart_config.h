// ColdstartConfig: what ember-bench-coldstart is told on its command line, and its parser.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace ember::bench {

// The tool's process exit codes.
enum class BenchExit : int {
  kOk = 0,     // every path measured and reported (targets met or not)
  kError = 1,  // a VM failed to boot, restore, init or answer; the reason on stderr
  kUsage = 2,
};

struct ColdstartConfig {
  std::string vmm, kernel, rootfs, initramfs;  // the guest's files and ember-vmm
  std::string mkfs_erofs = "mkfs.erofs";       // packs the function's code image
  std::string work_dir;                        // code image, snapshot, sockets; removed at the end
  uint32_t runs = 5;                           // measurements per path, interleaved
  uint32_t mem_vms = 10;                       // VMs alive at once in each memory group
  uint32_t mem_mib = 128;                      // guest RAM of every VM
};

struct ColdstartFlags {
  bool help = false;
  ColdstartConfig config;
};

// Parses argv; unknown, missing or out-of-range flags are errors meant for the user.
Result<ColdstartFlags> parse_coldstart_flags(int argc, const char* const argv[]);

std::string coldstart_usage();

}  // namespace ember::bench
