// Zero page: the Linux boot_params (e820 map, command line and initrd pointers) and their writing.
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember::vmm {

inline constexpr uint32_t kE820Ram = 1;
inline constexpr uint32_t kE820Reserved = 2;

struct InitrdPlacement {
  uint64_t addr = 0;
  uint64_t size = 0;
};

// The e820 map for `mem_size` bytes of RAM laid out as GuestMemory does: base memory below
// the MP table, the MP table reserved, RAM from 1 MiB to min(mem, 3 GiB), then the rest
// from 4 GiB. The legacy hole 0xA0000-0xFFFFF and the MMIO gap are left out.
std::vector<boot_e820_entry> build_e820_map(uint64_t mem_size);

// boot_params for the 64-bit boot protocol: setup header magic, type_of_loader 0xff,
// LOADED_HIGH | KEEP_SEGMENTS | CAN_USE_HEAP, the command line at layout::kCmdlineAddr of
// `cmdline_len` bytes (without the NUL), the initrd if any, and the e820 map.
Result<boot_params> build_boot_params(uint64_t mem_size, uint64_t cmdline_len,
                                      std::optional<InitrdPlacement> initrd);

// Writes the NUL-terminated command line at layout::kCmdlineAddr and the zero page at
// layout::kZeroPageAddr.
Status write_boot_params(const GuestMemory& memory, const std::string& cmdline,
                         std::optional<InitrdPlacement> initrd);

}  // namespace ember::vmm
