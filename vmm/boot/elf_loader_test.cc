// Tests for the vmlinux ELF loader: a valid image loads, malformed ones are refused intact.
#include "vmm/boot/elf_loader.h"
#include "vmm/boot/elf_test_header.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace ember::vmm {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kLoadAddr = 16 * kMiB;

// A minimal vmlinux-like image: one PT_LOAD of `payload` at kLoadAddr with `bss` extra
// bytes, entry at its start.
struct ElfImage {
  Elf64_Ehdr eh{};
  std::vector<Elf64_Phdr> phdrs;
  std::vector<uint8_t> payload;

  ElfImage() : eh(x86_64_exec_header(kLoadAddr)) {
    for (int i = 0; i < 256; ++i) payload.push_back(static_cast<uint8_t>(i));
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_paddr = kLoadAddr;
    ph.p_vaddr = 0xFFFF'FFFF'8100'0000ULL;  // vmlinux links high; paddr is what counts
    ph.p_filesz = payload.size();
    ph.p_memsz = payload.size() + 4096;
    phdrs.push_back(ph);
  }

  std::vector<uint8_t> bytes() {
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_phnum = static_cast<uint16_t>(phdrs.size());
    const uint64_t data_off = sizeof(Elf64_Ehdr) + phdrs.size() * sizeof(Elf64_Phdr);
    std::vector<uint8_t> out(data_off + payload.size());
    for (auto& ph : phdrs) {
      if (ph.p_offset == 0) ph.p_offset = data_off;
    }
    std::memcpy(out.data(), &eh, sizeof(eh));
    std::memcpy(out.data() + sizeof(eh), phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr));
    std::memcpy(out.data() + data_off, payload.data(), payload.size());
    return out;
  }
};

class ElfLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mem = GuestMemory::create_anonymous(64 * kMiB);
    ASSERT_TRUE(mem.ok());
    mem_ = std::move(mem.value());
  }
  // Loading must fail, mention `what`, and leave guest RAM untouched.
  void expect_rejected(std::vector<uint8_t> image, const std::string& what) {
    auto r = load_elf_kernel(image, mem_);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find(what), std::string::npos) << r.error().message();
    EXPECT_EQ(*mem_.read_obj<uint64_t>(kLoadAddr), 0u);
  }
  GuestMemory mem_;
};

TEST_F(ElfLoaderTest, LoadsSegmentAtPhysicalAddressAndZeroesBss) {
  ElfImage img;
  std::memset(mem_.host_ptr(kLoadAddr + 256, 16), 0xEE, 16);  // stale bytes in .bss
  auto r = load_elf_kernel(img.bytes(), mem_);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->entry, kLoadAddr);
  EXPECT_EQ(r->load_start, kLoadAddr);
  EXPECT_EQ(r->load_end, kLoadAddr + 256 + 4096);
  const uint8_t* p = mem_.host_ptr(kLoadAddr, 256 + 4096);
  for (int i = 0; i < 256; ++i) ASSERT_EQ(p[i], i);
  for (int i = 256; i < 256 + 4096; ++i) ASSERT_EQ(p[i], 0) << i;
}

TEST_F(ElfLoaderTest, SkipsNonLoadSegments) {
  ElfImage img;
  Elf64_Phdr note{};
  note.p_type = PT_NOTE;
  note.p_paddr = 0;  // would be invalid for a PT_LOAD
  note.p_offset = 1 << 30;
  img.phdrs.push_back(note);
  EXPECT_TRUE(load_elf_kernel(img.bytes(), mem_).ok());
}

TEST_F(ElfLoaderTest, RejectsWrongMagicWithVmlinuxHint) {
  ElfImage img;
  auto bytes = img.bytes();
  bytes[1] = 'X';
  expect_rejected(bytes, "vmlinux");
}

TEST_F(ElfLoaderTest, RejectsBzImage) {
  std::vector<uint8_t> bz(0x1000, 0);
  bz[0] = 'M';
  bz[1] = 'Z';
  std::memcpy(bz.data() + 0x202, "HdrS", 4);
  expect_rejected(bz, "bzImage");
}

TEST_F(ElfLoaderTest, RejectsEmptyAndTruncatedHeader) {
  expect_rejected({}, "vmlinux");
  ElfImage img;
  auto bytes = img.bytes();
  bytes.resize(40);
  expect_rejected(bytes, "truncated");
}

TEST_F(ElfLoaderTest, RejectsTruncatedProgramHeaders) {
  ElfImage img;
  auto bytes = img.bytes();
  bytes.resize(sizeof(Elf64_Ehdr) + 20);
  expect_rejected(bytes, "program headers");
}

TEST_F(ElfLoaderTest, RejectsTruncatedSegmentData) {
  ElfImage img;
  auto bytes = img.bytes();
  bytes.resize(bytes.size() - 1);
  expect_rejected(bytes, "outside the file");
}

TEST_F(ElfLoaderTest, Rejects32BitElf) {
  ElfImage img;
  img.eh.e_ident[EI_CLASS] = ELFCLASS32;
  expect_rejected(img.bytes(), "64-bit");
}

TEST_F(ElfLoaderTest, RejectsOtherMachine) {
  ElfImage img;
  img.eh.e_machine = EM_AARCH64;
  expect_rejected(img.bytes(), "x86-64");
}

TEST_F(ElfLoaderTest, RejectsSegmentOutsideRam) {
  ElfImage img;
  img.phdrs[0].p_paddr = 63 * kMiB;
  img.phdrs[0].p_memsz = 2 * kMiB;
  img.eh.e_entry = 63 * kMiB;
  expect_rejected(img.bytes(), "does not fit in guest RAM");
}

TEST_F(ElfLoaderTest, RejectsSegmentWrappingAddressSpace) {
  ElfImage img;
  img.phdrs[0].p_paddr = ~0ULL - 10;
  img.eh.e_entry = ~0ULL - 10;
  expect_rejected(img.bytes(), "does not fit in guest RAM");
}

TEST_F(ElfLoaderTest, RejectsSegmentBelowOneMiB) {
  ElfImage img;
  img.phdrs[0].p_paddr = 0x7000;  // would overwrite the zero page
  img.eh.e_entry = 0x7000;
  expect_rejected(img.bytes(), "below 1 MiB");
}

TEST_F(ElfLoaderTest, RejectsHugeProgramHeaderCount) {
  ElfImage img;
  auto bytes = img.bytes();
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes.data(), sizeof(eh));
  eh.e_phnum = 0xFFFF;
  std::memcpy(bytes.data(), &eh, sizeof(eh));
  expect_rejected(bytes, "program header count");
}

TEST_F(ElfLoaderTest, RejectsProgramHeaderOffsetOverflow) {
  ElfImage img;
  auto bytes = img.bytes();
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes.data(), sizeof(eh));
  eh.e_phoff = ~0ULL - 8;
  std::memcpy(bytes.data(), &eh, sizeof(eh));
  expect_rejected(bytes, "program headers");
}

TEST_F(ElfLoaderTest, RejectsFileSizeAboveMemorySize) {
  ElfImage img;
  img.phdrs[0].p_memsz = 10;
  expect_rejected(img.bytes(), "file size larger");
}

TEST_F(ElfLoaderTest, RejectsEntryOutsideSegments) {
  ElfImage img;
  img.eh.e_entry = 0xFFFF'FFFF'8100'0000ULL;  // a virtual address
  expect_rejected(img.bytes(), "entry point");
}

TEST_F(ElfLoaderTest, RejectsNoLoadableSegment) {
  ElfImage img;
  img.phdrs[0].p_type = PT_NOTE;
  expect_rejected(img.bytes(), "no loadable");
}

TEST_F(ElfLoaderTest, FileLoaderReadsSegmentsFromDisk) {
  ElfImage img;
  const auto bytes = img.bytes();
  char path[] = "/tmp/ember-elf-test-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  auto r = load_elf_kernel_file(path, mem_);
  ::unlink(path);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->entry, kLoadAddr);
  EXPECT_EQ(mem_.host_ptr(kLoadAddr, 256)[255], 255);
}

TEST_F(ElfLoaderTest, FileLoaderNamesTheFileInErrors) {
  char path[] = "/tmp/ember-elf-test-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "MZ not a kernel", 15), 15);
  ::close(fd);
  auto r = load_elf_kernel_file(path, mem_);
  ::unlink(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find(path), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("vmlinux"), std::string::npos);
}

TEST_F(ElfLoaderTest, FileLoaderReportsMissingFile) {
  auto r = load_elf_kernel_file("/nonexistent/vmlinux", mem_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("/nonexistent/vmlinux"), std::string::npos);
}

}  // namespace
}  // namespace ember::vmm
