// ElfLoader: validates an x86-64 vmlinux ELF and copies its PT_LOAD segments into guest RAM.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "common/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember::vmm {

struct LoadedKernel {
  uint64_t entry = 0;       // guest physical entry point (startup_64)
  uint64_t load_start = 0;  // lowest physical address of any PT_LOAD segment
  uint64_t load_end = 0;    // one past the highest byte (including .bss) of any segment
};

// Upper bound on program headers; vmlinux has about five.
inline constexpr uint16_t kMaxElfProgramHeaders = 64;

// Reads out.size() bytes at `offset` of the kernel file into `out`, or fails.
using ElfReader = std::function<Status(uint64_t offset, std::span<uint8_t> out)>;

// Loads the ELF file of `file_size` bytes that `read` gives access to. Everything is validated
// before a byte is copied: magic, 64-bit little-endian x86-64 executable, program header table
// within the image and at most kMaxElfProgramHeaders entries, each PT_LOAD's file range within the
// image, its physical range at or above 1 MiB and inside one guest RAM region, and the entry point
// inside a loaded segment. A bzImage or any other file is rejected with an error saying that
// an uncompressed vmlinux ELF is needed. Segment bytes are read straight into guest RAM.
Result<LoadedKernel> load_elf_kernel(uint64_t file_size, const ElfReader& read,
                                     const GuestMemory& memory);

// The same for an image held in memory.
Result<LoadedKernel> load_elf_kernel(std::span<const uint8_t> image, const GuestMemory& memory);

// Loads the file at `path` with pread().
Result<LoadedKernel> load_elf_kernel_file(const std::string& path, const GuestMemory& memory);

}  // namespace ember::vmm
