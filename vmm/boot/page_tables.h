// Identity page tables: the first 1 GiB mapped 1:1 with 2 MiB pages for the 64-bit entry.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember::vmm {

inline constexpr uint64_t kPtePresent = 1ULL << 0;
inline constexpr uint64_t kPteWritable = 1ULL << 1;
inline constexpr uint64_t kPteHuge = 1ULL << 7;
inline constexpr uint64_t kIdentityMappedBytes = 1ULL << 30;

// Writes PML4 (layout::kPml4Addr) -> PDPT (kPdptAddr) -> PD (kPdAddr) with 512 2 MiB
// entries, so [0, 1 GiB) is mapped to itself. CR3 must be set to layout::kPml4Addr.
Status write_identity_page_tables(const GuestMemory& memory);

}  // namespace ember::vmm
