// Zero page: e820 map and boot_params construction.
#include "vmm/boot/zero_page.h"

#include <algorithm>
#include <cstring>

#include "vmm/boot/layout.h"

namespace ember::vmm {
namespace {

constexpr uint16_t kBootFlag = 0xAA55;
constexpr uint32_t kHeaderMagic = 0x53726448;  // "HdrS"
constexpr uint8_t kLoaderUndefined = 0xFF;
constexpr uint32_t kKernelAlignment = 0x100'0000;

static_assert(sizeof(boot_params) == 4096, "boot_params must be one page");
static_assert(offsetof(boot_params, e820_table) == 0x2D0);
static_assert(offsetof(boot_params, hdr) == 0x1F1);

}  // namespace

std::vector<boot_e820_entry> build_e820_map(uint64_t mem_size) {
  std::vector<boot_e820_entry> map;
  auto add = [&map](uint64_t addr, uint64_t size, uint32_t type) {
    if (size != 0) map.push_back(boot_e820_entry{addr, size, type});
  };
  const uint64_t low_end = std::min(mem_size, kMmioGapStart);
  add(0, std::min(low_end, layout::kMpTableAddr), kE820Ram);
  if (low_end > layout::kMpTableAddr) {
    add(layout::kMpTableAddr, layout::kEbdaEnd - layout::kMpTableAddr, kE820Reserved);
  }
  if (low_end > layout::kHighMemStart) {
    add(layout::kHighMemStart, low_end - layout::kHighMemStart, kE820Ram);
  }
  if (mem_size > kMmioGapStart) add(kMmioGapEnd, mem_size - kMmioGapStart, kE820Ram);
  return map;
}

Result<boot_params> build_boot_params(uint64_t mem_size, uint64_t cmdline_len,
                                      std::optional<InitrdPlacement> initrd) {
  if (cmdline_len + 1 > layout::kCmdlineMaxSize) {
    return make_error("build boot_params", "command line too long");
  }
  boot_params params;
  std::memset(&params, 0, sizeof(params));
  setup_header& hdr = params.hdr;
  hdr.boot_flag = kBootFlag;
  hdr.header = kHeaderMagic;
  hdr.type_of_loader = kLoaderUndefined;
  hdr.loadflags = LOADED_HIGH | KEEP_SEGMENTS | CAN_USE_HEAP;
  hdr.heap_end_ptr = 0xFE00;
  hdr.kernel_alignment = kKernelAlignment;
  hdr.cmd_line_ptr = static_cast<uint32_t>(layout::kCmdlineAddr);
  params.ext_cmd_line_ptr = 0;
  hdr.cmdline_size = static_cast<uint32_t>(cmdline_len);
  if (initrd) {
    if (initrd->addr + initrd->size > kMmioGapStart || initrd->size > UINT32_MAX) {
      return make_error("build boot_params", "initrd must lie below 3 GiB");
    }
    hdr.ramdisk_image = static_cast<uint32_t>(initrd->addr);
    hdr.ramdisk_size = static_cast<uint32_t>(initrd->size);
    params.ext_ramdisk_image = static_cast<uint32_t>(initrd->addr >> 32);
    params.ext_ramdisk_size = 0;
  }
  const std::vector<boot_e820_entry> e820 = build_e820_map(mem_size);
  if (e820.size() > E820_MAX_ENTRIES_ZEROPAGE)
    return make_error("build boot_params", "e820 map too big");
  std::copy(e820.begin(), e820.end(), params.e820_table);
  params.e820_entries = static_cast<uint8_t>(e820.size());
  return params;
}

Status write_boot_params(const GuestMemory& memory, const std::string& cmdline,
                         std::optional<InitrdPlacement> initrd) {
  EMBER_TRY(boot_params params, build_boot_params(memory.size(), cmdline.size(), initrd));
  EMBER_CHECK(memory.write(layout::kCmdlineAddr, {reinterpret_cast<const uint8_t*>(cmdline.c_str()),
                                                  cmdline.size() + 1}));
  return memory.write_obj(layout::kZeroPageAddr, params);
}

}  // namespace ember::vmm
