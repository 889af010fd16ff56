// Identity page tables for the Linux 64-bit boot protocol.
#include "vmm/boot/page_tables.h"

#include <array>

#include "vmm/boot/layout.h"

namespace ember::vmm {

Status write_identity_page_tables(const GuestMemory& memory) {
  std::array<uint64_t, 512> table{};
  table[0] = layout::kPdptAddr | kPtePresent | kPteWritable;
  EMBER_CHECK(memory.write_obj(layout::kPml4Addr, table));

  table.fill(0);
  table[0] = layout::kPdAddr | kPtePresent | kPteWritable;
  EMBER_CHECK(memory.write_obj(layout::kPdptAddr, table));

  for (uint64_t i = 0; i < table.size(); ++i) {
    table[i] = (i << 21) | kPtePresent | kPteWritable | kPteHuge;
  }
  return memory.write_obj(layout::kPdAddr, table);
}

}  // namespace ember::vmm
