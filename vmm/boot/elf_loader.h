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

// Maps `len` bytes of the kernel file at `offset` (both page aligned) over guest RAM at
// `dst` (page aligned) copy-on-write; returns false when it cannot, and the bytes are read.
using ElfMapper = std::function<bool(uint64_t offset, uint8_t* dst, uint64_t len)>;

// Loads the ELF file of `file_size` bytes that `read` gives access to. Everything is validated
// before a byte is copied: magic, 64-bit little-endian x86-64 executable, program header table
// within the image and at most kMaxElfProgramHeaders entries, each PT_LOAD's file range within the
// image, its physical range at or above 1 MiB and inside one guest RAM region, and the entry point
// inside a loaded segment. A bzImage or any other file is rejected with an error saying that
// an uncompressed vmlinux ELF is needed. Segment bytes are read straight into guest RAM.
// With a mapper, whole pages of each segment are mapped rather than copied.
Result<LoadedKernel> load_elf_kernel(uint64_t file_size, const ElfReader& read,
                                     const GuestMemory& memory, const ElfMapper& map = nullptr);

// The same for an image held in memory.
Result<LoadedKernel> load_elf_kernel(std::span<const uint8_t> image, const GuestMemory& memory);

// Loads the file at `path`: segments are mapped MAP_PRIVATE from the page cache where
// their file offset and address are page aligned (vmlinux's are), the rest read with pread().
// The guest only faults in the kernel pages it touches, and many VMs share them.
Result<LoadedKernel> load_elf_kernel_file(const std::string& path, const GuestMemory& memory);

}  // namespace ember::vmm
