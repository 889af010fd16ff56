// Initrd placement and loading.
#include "vmm/boot/initrd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/unique_fd.h"

namespace ember::vmm {

Result<InitrdPlacement> place_initrd(uint64_t size, uint64_t low_ram_end, uint64_t kernel_end) {
  constexpr uint64_t kPage = 4096;
  if (size == 0) return make_error("load initrd", "initrd is empty");
  const uint64_t kernel_top = (kernel_end + kPage - 1) & ~(kPage - 1);
  if (size > low_ram_end || low_ram_end - size < kernel_top) {
    return make_error("load initrd", "initrd of " + std::to_string(size) +
                                         " bytes does not fit between the kernel and the end "
                                         "of low RAM (raise --mem-mib)");
  }
  const uint64_t addr = (low_ram_end - size) & ~(kPage - 1);
  if (addr < kernel_top) {
    return make_error("load initrd", "initrd would overlap the kernel (raise --mem-mib)");
  }
  return InitrdPlacement{addr, size};
}

Result<InitrdPlacement> load_initrd_file(const std::string& path, const GuestMemory& memory,
                                         uint64_t kernel_end) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("open initrd", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return errno_error("stat initrd", path);
  if (!S_ISREG(st.st_mode)) return make_error("open initrd", path + " is not a regular file");
  const uint64_t low_ram_end = std::min(memory.size(), kMmioGapStart);
  EMBER_TRY(InitrdPlacement placement,
            place_initrd(static_cast<uint64_t>(st.st_size), low_ram_end, kernel_end));
  uint8_t* dst = memory.host_ptr(placement.addr, placement.size);
  if (dst == nullptr) return make_error("load initrd", "placement outside guest RAM");
  uint64_t done = 0;
  while (done < placement.size) {
    const ssize_t n =
        ::pread(fd.get(), dst + done, placement.size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("read initrd", path);
    if (n == 0) return make_error("read initrd", path + " shrank while being read");
    done += static_cast<uint64_t>(n);
  }
  return placement;
}

}  // namespace ember::vmm
