// Kernel command line assembly.
#include "vmm/boot/cmdline.h"

#include <cstdio>

#include "vmm/boot/layout.h"

namespace ember::vmm {

std::string virtio_mmio_arg(const VirtioMmioSlot& slot) {
  char buf[96];
  if (slot.size % 1024 == 0) {
    std::snprintf(buf, sizeof(buf), "virtio_mmio.device=%lluK@0x%llx:%u",
                  static_cast<unsigned long long>(slot.size / 1024),
                  static_cast<unsigned long long>(slot.base), slot.gsi);
  } else {
    std::snprintf(buf, sizeof(buf), "virtio_mmio.device=%llu@0x%llx:%u",
                  static_cast<unsigned long long>(slot.size),
                  static_cast<unsigned long long>(slot.base), slot.gsi);
  }
  return buf;
}

Result<std::string> build_kernel_cmdline(const CmdlineOptions& options) {
  std::string line =
      "reboot=k panic=-1 pci=off nomodules i8042.noaux i8042.nomux i8042.dumbkbd "
      "tsc=reliable no_timer_check console=ttyS0";
  if (!options.console) line += " loglevel=1";
  if (options.has_root) line += " root=/dev/vda ro rootfstype=erofs";
  for (const VirtioMmioSlot& slot : options.virtio_devices) line += " " + virtio_mmio_arg(slot);
  if (!options.extra.empty()) line += " " + options.extra;

  if (line.find_first_of(std::string("\0\n", 2)) != std::string::npos) {
    return make_error("build kernel command line", "--cmdline must not contain NUL or newline");
  }
  if (line.size() + 1 > layout::kCmdlineMaxSize) {
    return make_error("build kernel command line",
                      "command line is " + std::to_string(line.size()) +
                          " bytes; Linux accepts at most " +
                          std::to_string(layout::kCmdlineMaxSize - 1) + " (shorten --cmdline)");
  }
  return line;
}

}  // namespace ember::vmm
