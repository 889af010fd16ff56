// Tests for Block: read, write, flush, get-id and read-only rejection against a temp file.
#include "vmm/virtio/block.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "vmm/virtio/test_driver.h"

namespace ember::vmm::virtio {
namespace {

using testing::drain;
using testing::kTestMemSize;
using testing::TestDriver;

constexpr uint32_t kDiskSize = 1 << 20;

struct Header {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

class BlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-blk-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    path_ = tmpl;
    std::vector<uint8_t> data(kDiskSize);
    for (uint32_t i = 0; i < kDiskSize; ++i) data[i] = static_cast<uint8_t>(i * 7 + i / 512);
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
    disk_ = data;
    auto m = GuestMemory::create_anonymous(kTestMemSize);
    ASSERT_TRUE(m.ok());
    mem_ = std::move(*m);
    loop_ = std::make_unique<EventLoop>(std::move(EventLoop::create().value()));
  }
  void TearDown() override { ::unlink(path_.c_str()); }

  void start(bool read_only) {
    auto blk = Block::open({path_, read_only, "ember-serial-1"});
    ASSERT_TRUE(blk.ok()) << blk.error().message();
    auto t = MmioTransport::create(mem_, *loop_, std::move(*blk));
    ASSERT_TRUE(t.ok());
    transport_ = std::move(*t);
    driver_ = std::make_unique<TestDriver>(*transport_, mem_);
    ASSERT_EQ(driver_->init(), 0xfu);
  }

  // Sends one request: header, then `data` buffers, then a 1-byte status; returns status.
  uint8_t request(uint32_t type, uint64_t sector, std::vector<TestDriver::Buf> data,
                  uint32_t* used_len = nullptr) {
    const uint64_t hdr = driver_->alloc(16);
    Header h{type, 0, sector};
    EXPECT_TRUE(mem_.write_obj(hdr, h).ok());
    const uint64_t status = driver_->alloc(1);
    EXPECT_TRUE(mem_.write_obj<uint8_t>(status, 0xee).ok());
    data.insert(data.begin(), {hdr, 16, false});
    data.push_back({status, 1, true});
    driver_->add_chain(0, data);
    driver_->kick(0);
    drain(*loop_);
    auto used = driver_->next_used(0);
    EXPECT_TRUE(used.has_value());
    if (used_len != nullptr && used) *used_len = used->len;
    return mem_.read_obj<uint8_t>(status).value();
  }

  std::vector<uint8_t> file_bytes(uint64_t offset, size_t len) {
    std::vector<uint8_t> out(len);
    const int fd = ::open(path_.c_str(), O_RDONLY);
    EXPECT_EQ(::pread(fd, out.data(), len, static_cast<off_t>(offset)), static_cast<ssize_t>(len));
    ::close(fd);
    return out;
  }

  std::string path_;
  std::vector<uint8_t> disk_;
  GuestMemory mem_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<MmioTransport> transport_;
  std::unique_ptr<TestDriver> driver_;
};

TEST_F(BlockTest, ConfigAndFeatures) {
  start(true);
  EXPECT_EQ(driver_->read_config64(0), kDiskSize / 512u);
  EXPECT_EQ(driver_->read32(mmio::kConfig + 12), 254u);  // seg_max
  EXPECT_EQ(driver_->read32(mmio::kDeviceId), kDeviceIdBlock);
  driver_->write32(mmio::kDeviceFeaturesSel, 0);
  const uint32_t f = driver_->read32(mmio::kDeviceFeatures);
  EXPECT_TRUE(f & (1u << 5)) << "VIRTIO_BLK_F_RO not offered";
  EXPECT_TRUE(f & (1u << 9)) << "VIRTIO_BLK_F_FLUSH not offered";
}

TEST_F(BlockTest, ReadAcrossSegmentsRaisesInterrupt) {
  start(false);
  const uint64_t a = driver_->alloc(512), b = driver_->alloc(1024);
  uint32_t used = 0;
  EXPECT_EQ(request(0, 3, {{a, 512, true}, {b, 1024, true}}, &used), 0);
  EXPECT_EQ(used, 1536u + 1);
  EXPECT_EQ(driver_->read_mem(a, 512),
            std::vector<uint8_t>(disk_.begin() + 1536, disk_.begin() + 2048));
  EXPECT_EQ(driver_->read_mem(b, 1024),
            std::vector<uint8_t>(disk_.begin() + 2048, disk_.begin() + 3072));
  EXPECT_EQ(driver_->read32(mmio::kInterruptStatus), kInterruptUsedBuffer);
}

TEST_F(BlockTest, ReadThroughIndirectTableWithStatusSharingLastBuffer) {
  start(false);
  const uint64_t hdr = driver_->alloc(16), data = driver_->alloc(513);
  ASSERT_TRUE(mem_.write_obj(hdr, Header{0, 0, 10}).ok());
  driver_->add_indirect(0, {{hdr, 16, false}, {data, 513, true}});
  driver_->kick(0);
  drain(*loop_);
  auto used = driver_->next_used(0);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->len, 513u);
  EXPECT_EQ(driver_->read_mem(data, 512),
            std::vector<uint8_t>(disk_.begin() + 5120, disk_.begin() + 5632));
  EXPECT_EQ(mem_.read_obj<uint8_t>(data + 512).value(), 0) << "status is not the last byte";
}

TEST_F(BlockTest, WriteThenFlush) {
  start(false);
  const uint64_t a = driver_->alloc(1024);
  std::vector<uint8_t> pattern(1024);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(255 - i % 251);
  driver_->write_mem(a, pattern);
  uint32_t used = 99;
  EXPECT_EQ(request(1, 5, {{a, 1024, false}}, &used), 0);
  EXPECT_EQ(used, 1u);
  EXPECT_EQ(file_bytes(5 * 512, 1024), pattern);
  EXPECT_EQ(request(4, 0, {}), 0);
}

TEST_F(BlockTest, GetId) {
  start(true);
  const uint64_t id = driver_->alloc(20);
  uint32_t used = 0;
  EXPECT_EQ(request(8, 0, {{id, 20, true}}, &used), 0);
  EXPECT_EQ(used, 21u);
  const auto got = driver_->read_mem(id, 20);
  EXPECT_EQ(std::string(got.begin(), got.begin() + 14), "ember-serial-1");
  EXPECT_EQ(got[14], 0);
}

TEST_F(BlockTest, ReadOnlyRejectsWrites) {
  start(true);
  const uint64_t a = driver_->alloc(512);
  driver_->write_mem(a, std::vector<uint8_t>(512, 0xab));
  EXPECT_EQ(request(1, 0, {{a, 512, false}}), 1);  // VIRTIO_BLK_S_IOERR
  EXPECT_EQ(file_bytes(0, 512), std::vector<uint8_t>(disk_.begin(), disk_.begin() + 512));
  EXPECT_EQ(request(0, 0, {{a, 512, true}}), 0) << "reads must still work";
}

TEST_F(BlockTest, RejectsBadRequests) {
  start(false);
  const uint64_t a = driver_->alloc(1024);
  EXPECT_EQ(request(0, kDiskSize / 512 - 1, {{a, 1024, true}}), 1) << "read past the end";
  EXPECT_EQ(request(0, ~uint64_t{0} / 256, {{a, 512, true}}), 1) << "sector overflow";
  EXPECT_EQ(request(0, 0, {{a, 100, true}}), 1) << "not a sector multiple";
  EXPECT_EQ(request(1, kDiskSize / 512, {{a, 512, false}}), 1) << "write past the end";
  EXPECT_EQ(request(77, 0, {}), 2);  // VIRTIO_BLK_S_UNSUPP
  EXPECT_TRUE(transport_->active()) << "a bad request is not a protocol violation";
}

TEST_F(BlockTest, BufferOutsideRamNeedsReset) {
  start(false);
  const uint64_t hdr = driver_->alloc(16), status = driver_->alloc(1);
  ASSERT_TRUE(mem_.write_obj(hdr, Header{0, 0, 0}).ok());
  driver_->add_chain(0, {{hdr, 16, false}, {kTestMemSize - 256, 512, true}, {status, 1, true}});
  driver_->kick(0);
  drain(*loop_);
  EXPECT_TRUE(transport_->status() & kStatusNeedsReset);
  EXPECT_FALSE(driver_->next_used(0).has_value());
}

}  // namespace
}  // namespace ember::vmm::virtio
