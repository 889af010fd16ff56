// TestDriver: register access and ring building for the virtio unit tests.
#include "vmm/virtio/test_driver.h"

#include <gtest/gtest.h>

#include <cstring>

namespace ember::vmm::virtio::testing {

void drain(EventLoop& loop) {
  for (int i = 0; i < 1000; ++i) {
    auto n = loop.run_once(0);
    ASSERT_TRUE(n.ok()) << n.error().message();
    if (*n == 0) return;
  }
  FAIL() << "event loop did not go idle";
}

uint32_t TestDriver::read32(uint64_t offset) {
  uint32_t v = 0;
  transport_.mmio_read(offset, {reinterpret_cast<uint8_t*>(&v), 4});
  return v;
}

void TestDriver::write32(uint64_t offset, uint32_t value) {
  transport_.mmio_write(offset, {reinterpret_cast<const uint8_t*>(&value), 4});
}

uint64_t TestDriver::read_config64(uint64_t offset) {
  uint64_t v = 0;
  transport_.mmio_read(mmio::kConfig + offset, {reinterpret_cast<uint8_t*>(&v), 8});
  return v;
}

uint32_t TestDriver::init(uint64_t wanted, uint16_t queue_size) {
  write32(mmio::kStatus, 0);
  write32(mmio::kStatus, kStatusAcknowledge);
  write32(mmio::kStatus, kStatusAcknowledge | kStatusDriver);
  uint64_t offered = 0;
  for (uint32_t sel = 0; sel < 2; ++sel) {
    write32(mmio::kDeviceFeaturesSel, sel);
    offered |= uint64_t{read32(mmio::kDeviceFeatures)} << (32 * sel);
  }
  const uint64_t acked = offered & wanted;
  for (uint32_t sel = 0; sel < 2; ++sel) {
    write32(mmio::kDriverFeaturesSel, sel);
    write32(mmio::kDriverFeatures, static_cast<uint32_t>(acked >> (32 * sel)));
  }
  write32(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  if (!(read32(mmio::kStatus) & kStatusFeaturesOk)) return read32(mmio::kStatus);
  for (uint16_t q = 0; q < transport_.num_queues(); ++q) setup_queue(q, queue_size);
  write32(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  return read32(mmio::kStatus);
}

void TestDriver::setup_queue(uint16_t q, uint16_t size) {
  write32(mmio::kQueueSel, q);
  write32(mmio::kQueueNum, size);
  write32(mmio::kQueueDescLow, static_cast<uint32_t>(desc_addr(q)));
  write32(mmio::kQueueDescHigh, 0);
  write32(mmio::kQueueDriverLow, static_cast<uint32_t>(avail_addr(q)));
  write32(mmio::kQueueDriverHigh, 0);
  write32(mmio::kQueueDeviceLow, static_cast<uint32_t>(used_addr(q)));
  write32(mmio::kQueueDeviceHigh, 0);
  write32(mmio::kQueueReady, 1);
  size_[q] = size;
}

uint64_t TestDriver::alloc(uint32_t len) {
  const uint64_t addr = next_data_;
  next_data_ += (len + 15) & ~uint64_t{15};
  return addr;
}

void TestDriver::write_desc(uint16_t q, uint16_t index, VirtqDesc desc) {
  ASSERT_TRUE(mem_.write_obj(desc_addr(q) + 16 * index, desc).ok());
}

uint16_t TestDriver::add_chain(uint16_t q, const std::vector<Buf>& bufs) {
  const uint16_t head = next_desc_[q];
  for (size_t i = 0; i < bufs.size(); ++i) {
    const uint16_t index = (head + i) % size_[q];
    const bool last = i + 1 == bufs.size();
    write_desc(q, index,
               VirtqDesc{bufs[i].addr, bufs[i].len,
                         static_cast<uint16_t>((bufs[i].writable ? kDescFlagWrite : 0) |
                                               (last ? 0 : kDescFlagNext)),
                         static_cast<uint16_t>((index + 1) % size_[q])});
  }
  next_desc_[q] = (head + bufs.size()) % size_[q];
  publish(q, head);
  return head;
}

uint16_t TestDriver::add_indirect(uint16_t q, const std::vector<Buf>& bufs) {
  const uint64_t table = alloc(static_cast<uint32_t>(16 * bufs.size()));
  for (size_t i = 0; i < bufs.size(); ++i) {
    const bool last = i + 1 == bufs.size();
    VirtqDesc d{
        bufs[i].addr, bufs[i].len,
        static_cast<uint16_t>((bufs[i].writable ? kDescFlagWrite : 0) | (last ? 0 : kDescFlagNext)),
        static_cast<uint16_t>(i + 1)};
    EXPECT_TRUE(mem_.write_obj(table + 16 * i, d).ok());
  }
  const uint16_t head = next_desc_[q];
  write_desc(q, head,
             VirtqDesc{table, static_cast<uint32_t>(16 * bufs.size()), kDescFlagIndirect, 0});
  next_desc_[q] = (head + 1) % size_[q];
  publish(q, head);
  return head;
}

void TestDriver::publish(uint16_t q, uint16_t head) {
  const uint64_t slot = avail_addr(q) + 4 + 2 * (avail_idx_[q] % size_[q]);
  ASSERT_TRUE(mem_.write_obj<uint16_t>(slot, head).ok());
  ++avail_idx_[q];
  ASSERT_TRUE(mem_.write_obj<uint16_t>(avail_addr(q) + 2, avail_idx_[q]).ok());
}

uint16_t TestDriver::used_idx(uint16_t q) {
  return mem_.read_obj<uint16_t>(used_addr(q) + 2).value();
}

std::optional<VirtqUsedElem> TestDriver::next_used(uint16_t q) {
  if (used_idx(q) == used_seen_[q]) return std::nullopt;
  const uint64_t slot = used_addr(q) + 4 + 8 * (used_seen_[q] % size_[q]);
  ++used_seen_[q];
  return mem_.read_obj<VirtqUsedElem>(slot).value();
}

std::vector<uint8_t> TestDriver::read_mem(uint64_t addr, size_t len) {
  std::vector<uint8_t> out(len);
  EXPECT_TRUE(mem_.read(addr, out).ok());
  return out;
}

void TestDriver::write_mem(uint64_t addr, const std::vector<uint8_t>& data) {
  EXPECT_TRUE(mem_.write(addr, data).ok());
}

}  // namespace ember::vmm::virtio::testing
