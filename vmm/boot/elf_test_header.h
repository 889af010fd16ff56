// elf_test_header: the ELF header of a minimal x86-64 executable, for tests that build
// kernel images by hand.
#pragma once

#include <elf.h>

#include <cstdint>
#include <cstring>

namespace ember::vmm {

inline Elf64_Ehdr x86_64_exec_header(uint64_t entry) {
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_entry = entry;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  return eh;
}

}  // namespace ember::vmm
