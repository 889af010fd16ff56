// ElfLoader: vmlinux validation and segment loading.
#include "vmm/boot/elf_loader.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "common/unique_fd.h"
#include "vmm/boot/layout.h"

namespace ember::vmm {
namespace {

constexpr const char* kOp = "load kernel";
constexpr const char* kNeedVmlinux =
    "ember-vmm needs an uncompressed x86-64 vmlinux ELF (the `vmlinux` at the top of a kernel "
    "build tree, not arch/x86/boot/bzImage)";

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

bool looks_like_bzimage(std::span<const uint8_t> image) {
  // The setup header's "HdrS" signature sits at offset 0x202 of a bzImage.
  return image.size() >= 0x206 && std::memcmp(image.data() + 0x202, "HdrS", 4) == 0;
}

// `prefix` holds the file's first bytes (all of it when shorter than a page).
Status check_header(std::span<const uint8_t> prefix, uint64_t file_size, Elf64_Ehdr& eh) {
  if (prefix.size() < EI_NIDENT || std::memcmp(prefix.data(), ELFMAG, SELFMAG) != 0) {
    if (looks_like_bzimage(prefix)) {
      return make_error(kOp, std::string("this is a bzImage; ") + kNeedVmlinux);
    }
    return make_error(kOp, std::string("not an ELF file; ") + kNeedVmlinux);
  }
  if (prefix.size() < sizeof(Elf64_Ehdr)) {
    return make_error(kOp, std::string("truncated ELF header; ") + kNeedVmlinux);
  }
  std::memcpy(&eh, prefix.data(), sizeof(eh));
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) {
    return make_error(kOp, std::string("not a 64-bit ELF; ") + kNeedVmlinux);
  }
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64) {
    return make_error(kOp, std::string("ELF is not for x86-64; ") + kNeedVmlinux);
  }
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
    return make_error(kOp, std::string("ELF is not an executable; ") + kNeedVmlinux);
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return make_error(kOp, "bad ELF program header size " + std::to_string(eh.e_phentsize));
  }
  if (eh.e_phnum == 0 || eh.e_phnum > kMaxElfProgramHeaders) {
    return make_error(kOp, "unreasonable ELF program header count " + std::to_string(eh.e_phnum));
  }
  const uint64_t table_size = uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (eh.e_phoff > file_size || table_size > file_size - eh.e_phoff) {
    return make_error(kOp, "ELF program headers lie outside the file (truncated kernel?)");
  }
  return {};
}

Status check_segment(const Elf64_Phdr& ph, size_t index, uint64_t file_size,
                     const GuestMemory& memory) {
  const std::string which = "segment " + std::to_string(index);
  if (ph.p_filesz > ph.p_memsz) {
    return make_error(kOp, which + " has a file size larger than its memory size");
  }
  if (ph.p_offset > file_size || ph.p_filesz > file_size - ph.p_offset) {
    return make_error(kOp, which + " lies outside the file (truncated kernel?)");
  }
  if (ph.p_paddr < layout::kHighMemStart) {
    return make_error(kOp,
                      which + " loads at " + hex(ph.p_paddr) + ", below 1 MiB; " + kNeedVmlinux);
  }
  if (ph.p_memsz == 0) return {};
  if (memory.host_ptr(ph.p_paddr, ph.p_memsz) == nullptr) {
    return make_error(kOp, which + " at " + hex(ph.p_paddr) + " size " + hex(ph.p_memsz) +
                               " does not fit in guest RAM (raise --mem-mib?)");
  }
  return {};
}

}  // namespace

Result<LoadedKernel> load_elf_kernel(uint64_t file_size, const ElfReader& read,
                                     const GuestMemory& memory, const ElfMapper& map) {
  std::vector<uint8_t> prefix(std::min<uint64_t>(file_size, 4096));
  EMBER_CHECK(read(0, prefix));
  Elf64_Ehdr eh{};
  EMBER_CHECK(check_header(prefix, file_size, eh));

  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  EMBER_CHECK(read(eh.e_phoff,
                   {reinterpret_cast<uint8_t*>(phdrs.data()), phdrs.size() * sizeof(Elf64_Phdr)}));
  std::vector<Elf64_Phdr> loads;
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Elf64_Phdr& ph = phdrs[i];
    if (ph.p_type != PT_LOAD) continue;
    EMBER_CHECK(check_segment(ph, i, file_size, memory));
    if (ph.p_memsz != 0) loads.push_back(ph);
  }
  if (loads.empty()) {
    return make_error(kOp, std::string("ELF has no loadable segments; ") + kNeedVmlinux);
  }

  LoadedKernel kernel;
  kernel.entry = eh.e_entry;
  kernel.load_start = std::numeric_limits<uint64_t>::max();
  bool entry_inside = false;
  for (const Elf64_Phdr& ph : loads) {
    kernel.load_start = std::min(kernel.load_start, ph.p_paddr);
    kernel.load_end = std::max(kernel.load_end, ph.p_paddr + ph.p_memsz);
    if (eh.e_entry >= ph.p_paddr && eh.e_entry - ph.p_paddr < ph.p_memsz) entry_inside = true;
  }
  if (!entry_inside) {
    return make_error(kOp, "ELF entry point " + hex(eh.e_entry) +
                               " is not inside a loaded segment; " + kNeedVmlinux);
  }

  // All checks passed: file bytes into guest RAM (mapped or read), the rest (.bss) zeroed.
  constexpr uint64_t kPage = 4096;
  for (const Elf64_Phdr& ph : loads) {
    uint8_t* dst = memory.host_ptr(ph.p_paddr, ph.p_memsz);
    uint64_t mapped = 0;
    const uint64_t whole_pages = ph.p_filesz / kPage * kPage;
    if (map && whole_pages > 0 && ph.p_offset % kPage == 0 && ph.p_paddr % kPage == 0 &&
        map(ph.p_offset, dst, whole_pages)) {
      mapped = whole_pages;
    }
    EMBER_CHECK(read(ph.p_offset + mapped, {dst + mapped, ph.p_filesz - mapped}));
    std::memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
  }
  return kernel;
}

Result<LoadedKernel> load_elf_kernel(std::span<const uint8_t> image, const GuestMemory& memory) {
  return load_elf_kernel(
      image.size(),
      [image](uint64_t offset, std::span<uint8_t> out) -> Status {
        if (offset > image.size() || out.size() > image.size() - offset) {
          return make_error(kOp, "read past the end of the image");
        }
        std::memcpy(out.data(), image.data() + offset, out.size());
        return {};
      },
      memory);
}

Result<LoadedKernel> load_elf_kernel_file(const std::string& path, const GuestMemory& memory) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("open kernel", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return errno_error("stat kernel", path);
  if (!S_ISREG(st.st_mode)) return make_error("open kernel", path + " is not a regular file");
  if (st.st_size == 0) return make_error(kOp, path + " is empty; " + kNeedVmlinux);
  // pread() straight into guest RAM: one copy from the page cache, no mapping of the file.
  const int raw_fd = fd.get();
  auto reader = [raw_fd, &path](uint64_t offset, std::span<uint8_t> out) -> Status {
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n =
          ::pread(raw_fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno_error("read kernel", path);
      if (n == 0) return make_error("read kernel", path + " shrank while being read");
      done += static_cast<size_t>(n);
    }
    return {};
  };
  auto mapper = [raw_fd](uint64_t offset, uint8_t* dst, uint64_t len) {
    return ::mmap(dst, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, raw_fd,
                  static_cast<off_t>(offset)) != MAP_FAILED;
  };
  auto loaded = load_elf_kernel(static_cast<uint64_t>(st.st_size), reader, memory, mapper);
  if (!loaded.ok()) {
    Error e = loaded.error();
    if (e.op == kOp) e.context = path + ": " + e.context;
    return e;
  }
  return loaded;
}

}  // namespace ember::vmm
