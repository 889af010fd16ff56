// Initrd placement and loading: page-aligned at the top of low RAM, above the kernel.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "vmm/boot/zero_page.h"
#include "vmm/memory/guest_memory.h"

namespace ember::vmm {

// Where an initrd of `size` bytes goes: the highest 4 KiB-aligned address such that it
// ends at or below `low_ram_end` (min(mem, 3 GiB)). Fails when it would overlap the kernel
// (which ends at `kernel_end`) or `size` is 0.
Result<InitrdPlacement> place_initrd(uint64_t size, uint64_t low_ram_end, uint64_t kernel_end);

// Reads the file at `path` into guest RAM at the place_initrd() address.
Result<InitrdPlacement> load_initrd_file(const std::string& path, const GuestMemory& memory,
                                         uint64_t kernel_end);

}  // namespace ember::vmm
