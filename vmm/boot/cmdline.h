// Kernel command line assembly (the fixed arguments of docs/vmm-interfaces.md plus devices).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace ember::vmm {

struct VirtioMmioSlot {
  uint64_t base = 0;
  uint64_t size = 0;
  uint32_t gsi = 0;
};

struct CmdlineOptions {
  bool console = false;   // without --console the kernel logs only errors (loglevel=1)
  bool has_root = false;  // root=/dev/vda ro rootfstype=erofs when a root disk is attached
  std::vector<VirtioMmioSlot> virtio_devices;
  std::string extra;  // --cmdline, appended last so it can override earlier arguments
};

// "virtio_mmio.device=4K@0xd0000000:5" for one slot (size in K when a multiple of 1 KiB).
std::string virtio_mmio_arg(const VirtioMmioSlot& slot);

// The whole command line, or an error when it does not fit Linux's 2048-byte limit
// (including the terminating NUL) or contains a NUL/newline.
Result<std::string> build_kernel_cmdline(const CmdlineOptions& options);

}  // namespace ember::vmm
