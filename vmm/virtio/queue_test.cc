// Tests for Queue: chain walking, indirect tables and every malformed-ring error.
#include "vmm/virtio/queue.h"

#include <gtest/gtest.h>

#include "vmm/virtio/virtio_spec.h"

namespace ember::vmm::virtio {
namespace {

constexpr uint64_t kMem = 16 << 20;
constexpr uint64_t kDesc = 0x10000, kAvail = 0x11000, kUsed = 0x12000;

class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = GuestMemory::create_anonymous(kMem);
    ASSERT_TRUE(m.ok());
    mem_ = std::move(*m);
    Queue::State& s = q_.config();
    s.size = 16;
    s.desc_addr = kDesc;
    s.driver_addr = kAvail;
    s.device_addr = kUsed;
    s.ready = true;
    ASSERT_TRUE(q_.validate(mem_).ok());
  }

  void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    ASSERT_TRUE(mem_.write_obj(kDesc + 16 * i, VirtqDesc{addr, len, flags, next}).ok());
  }
  void publish(uint16_t head) {
    ASSERT_TRUE(mem_.write_obj<uint16_t>(kAvail + 4 + 2 * (avail_ % 16), head).ok());
    ASSERT_TRUE(mem_.write_obj<uint16_t>(kAvail + 2, ++avail_).ok());
  }
  // Pops expecting an error that names `what`.
  void expect_error(const std::string& what) {
    auto r = q_.pop(mem_);
    ASSERT_FALSE(r.ok()) << "malformed chain accepted";
    EXPECT_NE(r.error().message().find(what), std::string::npos) << r.error().message();
  }

  GuestMemory mem_;
  Queue q_;
  uint16_t avail_ = 0;
};

TEST_F(QueueTest, WalksDirectChainAndCopiesAcrossBuffers) {
  ASSERT_TRUE(mem_.write(0x100000, std::vector<uint8_t>{1, 2, 3}).ok());
  ASSERT_TRUE(mem_.write(0x200000, std::vector<uint8_t>{4, 5}).ok());
  desc(3, 0x100000, 3, kDescFlagNext, 7);
  desc(7, 0x200000, 2, kDescFlagNext, 1);
  desc(1, 0x300000, 10, kDescFlagWrite);
  auto none = q_.pop(mem_);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  publish(3);
  auto r = q_.pop(mem_);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_TRUE(r->has_value());
  const DescriptorChain& c = **r;
  EXPECT_EQ(c.head, 3);
  EXPECT_EQ(c.readable.size(), 2u);
  EXPECT_EQ(c.readable_len, 5u);
  EXPECT_EQ(c.writable_len, 10u);
  ChainCursor in(mem_, c.readable);
  std::vector<uint8_t> got(5);
  ASSERT_TRUE(in.read(got).ok());
  EXPECT_EQ(got, (std::vector<uint8_t>{1, 2, 3, 4, 5}));
  std::vector<uint8_t> one(1);
  EXPECT_FALSE(in.read(one).ok()) << "read past the chain";
  ChainCursor out(mem_, c.writable);
  EXPECT_FALSE(out.write(std::vector<uint8_t>(11)).ok());
  ASSERT_TRUE(out.write(std::vector<uint8_t>{9, 9}).ok());
  EXPECT_EQ(mem_.read_obj<uint16_t>(0x300000).value(), 0x0909);

  ASSERT_TRUE(q_.add_used(mem_, c.head, 2).ok());
  EXPECT_EQ(mem_.read_obj<uint16_t>(kUsed + 2).value(), 1);
  auto elem = mem_.read_obj<VirtqUsedElem>(kUsed + 4).value();
  EXPECT_EQ(elem.id, 3u);
  EXPECT_EQ(elem.len, 2u);
  EXPECT_FALSE(q_.pop(mem_)->has_value());
}

TEST_F(QueueTest, UndoPopGivesChainBack) {
  desc(0, 0x100000, 8, 0);
  publish(0);
  ASSERT_TRUE(q_.pop(mem_)->has_value());
  q_.undo_pop();
  auto again = q_.pop(mem_);
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->head, 0);
}

TEST_F(QueueTest, RejectsLoop) {
  desc(0, 0x100000, 8, kDescFlagNext, 1);
  desc(1, 0x100000, 8, kDescFlagNext, 0);
  publish(0);
  expect_error("longer than the queue");
}

TEST_F(QueueTest, RejectsOutOfRangeNextAndHead) {
  desc(0, 0x100000, 8, kDescFlagNext, 16);
  publish(0);
  expect_error("index out of range");
}

TEST_F(QueueTest, RejectsOutOfRangeHead) {
  publish(200);
  expect_error("index out of range");
}

TEST_F(QueueTest, RejectsBuffersOutsideRam) {
  desc(0, kMem - 4, 8, 0);  // runs off the end
  publish(0);
  expect_error("outside guest RAM");
}

TEST_F(QueueTest, RejectsBufferInMmioGapAndWrappingAddress) {
  desc(0, kMmioGapStart + 0x1000, 8, 0);
  publish(0);
  expect_error("outside guest RAM");
  ++q_.config().next_avail;          // the device would be reset; move on for the next case
  desc(1, ~uint64_t{0} - 3, 16, 0);  // addr + len overflows
  publish(1);
  EXPECT_FALSE(q_.pop(mem_).ok());
}

TEST_F(QueueTest, RejectsOversizedTotal) {
  // Every buffer is valid on its own; together they claim more than kMaxChainBytes.
  for (uint16_t i = 0; i < 10; ++i) desc(i, 0, 15 << 20, kDescFlagNext, i + 1);
  desc(10, 0, 15 << 20, 0);
  publish(0);
  expect_error("larger than");
}

TEST_F(QueueTest, RejectsReadableAfterWritable) {
  desc(0, 0x100000, 8, kDescFlagWrite | kDescFlagNext, 1);
  desc(1, 0x100000, 8, 0);
  publish(0);
  expect_error("readable descriptor after writable");
}

TEST_F(QueueTest, RejectsAvailIndexRunningAhead) {
  ASSERT_TRUE(mem_.write_obj<uint16_t>(kAvail + 2, 17).ok());
  expect_error("ran ahead");
}

TEST_F(QueueTest, WalksIndirectTable) {
  const uint64_t table = 0x50000;
  ASSERT_TRUE(mem_.write_obj(table, VirtqDesc{0x100000, 16, kDescFlagNext, 1}).ok());
  ASSERT_TRUE(mem_.write_obj(table + 16, VirtqDesc{0x200000, 32, kDescFlagNext, 2}).ok());
  ASSERT_TRUE(mem_.write_obj(table + 32, VirtqDesc{0x300000, 1, kDescFlagWrite, 0}).ok());
  desc(5, table, 48, kDescFlagIndirect);
  publish(5);
  auto r = q_.pop(mem_);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)->head, 5);
  EXPECT_EQ((*r)->readable_len, 48u);
  ASSERT_EQ((*r)->writable.size(), 1u);
  EXPECT_EQ((*r)->writable[0].addr, 0x300000u);
}

TEST_F(QueueTest, RejectsBadIndirectTables) {
  const uint64_t table = 0x50000;
  struct Case {
    const char* name;
    VirtqDesc pointer;
    VirtqDesc entry0;
    const char* error;
  };
  const Case cases[] = {
      {"nested", {table, 16, kDescFlagIndirect, 0}, {table, 16, kDescFlagIndirect, 0}, "nested"},
      {"with next", {table, 16, kDescFlagIndirect | kDescFlagNext, 1}, {0x1000, 4, 0, 0}, "NEXT"},
      {"bad length", {table, 24, kDescFlagIndirect, 0}, {0x1000, 4, 0, 0}, "indirect table"},
      {"too long", {table, 17 * 16, kDescFlagIndirect, 0}, {0x1000, 4, 0, 0}, "indirect table"},
      {"outside ram", {kMem - 8, 16, kDescFlagIndirect, 0}, {0x1000, 4, 0, 0}, "outside"},
      {"loop", {table, 32, kDescFlagIndirect, 0}, {0x1000, 4, kDescFlagNext, 0}, "longer than"},
      {"next out of table",
       {table, 16, kDescFlagIndirect, 0},
       {0x1000, 4, kDescFlagNext, 1},
       "out of range"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(mem_.write_obj(table, c.entry0).ok());
    desc(0, c.pointer.addr, c.pointer.len, c.pointer.flags, c.pointer.next);
    desc(1, 0x1000, 4, 0);
    publish(0);
    expect_error(c.error);
    ++q_.config().next_avail;  // a failed pop does not advance; skip to the next case
  }
}

TEST_F(QueueTest, IndexesWrapAt16Bits) {
  Queue::State s = q_.save();
  s.next_avail = 0xffff;
  s.next_used = 0xffff;
  q_.restore(s);
  avail_ = 0xffff;
  desc(2, 0x100000, 4, 0);
  publish(2);  // avail idx wraps to 0
  auto r = q_.pop(mem_);
  ASSERT_TRUE(r.ok() && r->has_value()) << (r.ok() ? "" : r.error().message());
  ASSERT_TRUE(q_.add_used(mem_, 2, 4).ok());
  EXPECT_EQ(mem_.read_obj<uint16_t>(kUsed + 2).value(), 0);
  EXPECT_EQ(mem_.read_obj<VirtqUsedElem>(kUsed + 4 + 8 * 15).value().id, 2u);
  EXPECT_EQ(q_.save().next_avail, 0);
}

TEST_F(QueueTest, HonoursNoInterruptFlag) {
  EXPECT_TRUE(q_.needs_interrupt(mem_).value());
  ASSERT_TRUE(mem_.write_obj<uint16_t>(kAvail, kAvailFlagNoInterrupt).ok());
  EXPECT_FALSE(q_.needs_interrupt(mem_).value());
}

TEST_F(QueueTest, ValidateChecksSizeAlignmentAndPlacement) {
  Queue::State good = q_.save();
  auto check = [&](auto mutate) {
    Queue q;
    Queue::State s = good;
    mutate(s);
    q.restore(s);
    return q.validate(mem_).ok();
  };
  EXPECT_TRUE(check([](Queue::State&) {}));
  EXPECT_FALSE(check([](Queue::State& s) { s.size = 12; }));
  EXPECT_FALSE(check([](Queue::State& s) { s.size = 0; }));
  EXPECT_FALSE(check([](Queue::State& s) { s.size = 512; }));
  EXPECT_FALSE(check([](Queue::State& s) { s.desc_addr = kDesc + 8; }));
  EXPECT_FALSE(check([](Queue::State& s) { s.device_addr = kUsed + 2; }));
  EXPECT_FALSE(check([](Queue::State& s) { s.device_addr = kMem - 16; }));
  EXPECT_FALSE(check([](Queue::State& s) { s.driver_addr = kMmioGapStart; }));
}

}  // namespace
}  // namespace ember::vmm::virtio
