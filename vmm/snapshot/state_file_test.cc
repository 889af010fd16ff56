// State file and snapshot directory: round trip and every refusal the restore path relies on.
#include "vmm/snapshot/state_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "vmm/snapshot/crc32.h"

namespace ember::vmm {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> sample_payload() {
  std::vector<uint8_t> p(1000);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 31 + 7);
  return p;
}

class SnapshotDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ember-snap-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // 1 MiB of guest RAM with two non-zero pages.
  GuestMemory make_memory() {
    auto mem = GuestMemory::create_anonymous(1 << 20);
    EXPECT_TRUE(mem.ok());
    const uint8_t a[3] = {1, 2, 3};
    EXPECT_TRUE(mem->write(0x3000, a).ok());
    EXPECT_TRUE(mem->write(0x80010, a).ok());
    return std::move(mem).value();
  }

  void write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream out(dir_ / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }

  fs::path dir_;
};

TEST(Crc32, MatchesTheStandardCheckValue) {
  const std::string s = "123456789";
  EXPECT_EQ(crc32({reinterpret_cast<const uint8_t*>(s.data()), s.size()}), 0xCBF43926u);
  EXPECT_EQ(crc32({}), 0u);
}

TEST(StateFile, FrameRoundTrips) {
  const auto payload = sample_payload();
  const auto file = frame_state(7, payload);
  ASSERT_EQ(file.size(), kStateHeaderSize + payload.size() + kStateTrailerSize);
  EXPECT_EQ(std::string(file.begin(), file.begin() + 8), "EMBRSNAP");
  auto back = unframe_state(file, 7);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, payload);
}

TEST(StateFile, RefusesWrongMagic) {
  auto file = frame_state(1, sample_payload());
  file[0] = 'X';
  auto r = unframe_state(file, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("magic"), std::string::npos) << r.error().message();
}

TEST(StateFile, RefusesOtherVersion) {
  const auto file = frame_state(2, sample_payload());
  auto r = unframe_state(file, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("version 2"), std::string::npos) << r.error().message();
}

TEST(StateFile, RefusesAFlippedPayloadByte) {
  auto file = frame_state(1, sample_payload());
  file[kStateHeaderSize + 500] ^= 0x01;
  auto r = unframe_state(file, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("checksum"), std::string::npos) << r.error().message();
}

TEST(StateFile, RefusesAFlippedChecksumByte) {
  auto file = frame_state(1, sample_payload());
  file.back() ^= 0x80;
  EXPECT_FALSE(unframe_state(file, 1).ok());
}

TEST(StateFile, RefusesTruncationAtEveryInterestingPoint) {
  const auto file = frame_state(1, sample_payload());
  for (size_t len : {size_t{0}, size_t{4}, size_t{8}, size_t{11}, size_t{19}, kStateHeaderSize,
                     kStateHeaderSize + 1, kStateHeaderSize + 999, file.size() - 4,
                     file.size() - 1}) {
    std::vector<uint8_t> cut(file.begin(), file.begin() + static_cast<ptrdiff_t>(len));
    auto r = unframe_state(cut, 1);
    EXPECT_FALSE(r.ok()) << "truncated to " << len << " bytes was accepted";
  }
}

TEST(StateFile, RefusesTrailingGarbageAndHugeLengths) {
  auto file = frame_state(1, sample_payload());
  file.push_back(0);
  EXPECT_FALSE(unframe_state(file, 1).ok());
  auto huge = frame_state(1, sample_payload());
  for (int i = 0; i < 8; ++i) huge[12 + i] = 0xFF;  // payload length 2^64-1
  EXPECT_FALSE(unframe_state(huge, 1).ok());
}

TEST_F(SnapshotDir, WritesBothFilesAndReadsTheStateBack) {
  GuestMemory mem = make_memory();
  const auto payload = sample_payload();
  ASSERT_TRUE(write_snapshot_dir(dir_, frame_state(1, payload), mem).ok());
  auto back = read_state_file(dir_, 1);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, payload);
  // No temporary files stay behind.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);
  }
  EXPECT_EQ(files, 2u);
}

TEST_F(SnapshotDir, MemoryFileIsSparseAndExact) {
  GuestMemory mem = make_memory();
  ASSERT_TRUE(write_snapshot_dir(dir_, frame_state(1, sample_payload()), mem).ok());
  auto fd = open_memory_file(dir_, mem.size());
  ASSERT_TRUE(fd.ok()) << fd.error().message();
  struct stat st {};
  ASSERT_EQ(::fstat(fd->get(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), mem.size());
  // Two 4 KiB data pages; a filesystem without holes would allocate all 256.
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{64} << 10);
  auto mapped = GuestMemory::map_file_private(fd->get(), mem.size());
  ASSERT_TRUE(mapped.ok()) << mapped.error().message();
  auto a = mapped->read_obj<uint32_t>(0x3000);
  auto b = mapped->read_obj<uint32_t>(0x80010);
  auto zero = mapped->read_obj<uint64_t>(0x5000);
  ASSERT_TRUE(a.ok() && b.ok() && zero.ok());
  EXPECT_EQ(*a, 0x030201u);
  EXPECT_EQ(*b, 0x030201u);
  EXPECT_EQ(*zero, 0u);
}

TEST_F(SnapshotDir, RefusesMissingAndShortMemoryFile) {
  GuestMemory mem = make_memory();
  ASSERT_TRUE(write_snapshot_dir(dir_, frame_state(1, sample_payload()), mem).ok());
  auto too_big = open_memory_file(dir_, mem.size() + 4096);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.error().message().find("truncated memory file"), std::string::npos)
      << too_big.error().message();
  fs::remove(dir_ / kMemoryFileName);
  auto missing = open_memory_file(dir_, mem.size());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("memory.bin"), std::string::npos);
}

TEST_F(SnapshotDir, RefusesMissingOrCorruptStateFile) {
  fs::create_directories(dir_);
  auto missing = read_state_file(dir_, 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("state.bin"), std::string::npos);
  auto bytes = frame_state(1, sample_payload());
  bytes[kStateHeaderSize + 3] ^= 0x10;
  write_file(kStateFileName, bytes);
  auto corrupt = read_state_file(dir_, 1);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.error().message().find("checksum"), std::string::npos);
}

TEST_F(SnapshotDir, FailedWriteLeavesNothingBehind) {
  fs::create_directories(dir_);
  // A directory where memory.bin should go makes the final rename fail.
  fs::create_directories(dir_ / kMemoryFileName / "blocker");
  GuestMemory mem = make_memory();
  EXPECT_FALSE(write_snapshot_dir(dir_, frame_state(1, sample_payload()), mem).ok());
  EXPECT_FALSE(fs::exists(dir_ / kStateFileName));
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace ember::vmm
