// Tests for MmioTransport: registers, feature negotiation, reset, notify and NEEDS_RESET.
#include "vmm/virtio/mmio_transport.h"

#include <gtest/gtest.h>
#include <poll.h>

#include "vmm/virtio/test_driver.h"

namespace ember::vmm::virtio {
namespace {

using testing::drain;
using testing::kTestMemSize;
using testing::TestDriver;

constexpr uint32_t kFakeFeature = 5;

// Two queues; consumes every chain of a kicked queue and reports each used with len 7.
class FakeDevice final : public VirtioDevice {
 public:
  uint32_t device_id() const override { return 42; }
  uint64_t features() const override {
    return feature_bit(kFeatureVersion1) | feature_bit(kFakeFeature);
  }
  uint16_t num_queues() const override { return 2; }
  void attach(VirtioTransport& t) override { transport = &t; }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override {
    read_config_bytes(config, offset, data);
  }
  void activate(uint64_t acked) override { activated_with = acked, ++activations; }
  void process_queue(uint16_t index) override {
    ++processed[index];
    Queue& q = transport->queue(index);
    for (;;) {
      auto c = q.pop(transport->memory());
      if (!c.ok()) return transport->fail(c.error());
      if (!c->has_value()) break;
      ASSERT_TRUE(q.add_used(transport->memory(), (*c)->head, 7).ok());
    }
    transport->signal_used(index);
  }
  void reset() override { ++resets; }

  VirtioTransport* transport = nullptr;
  std::array<uint8_t, 8> config = {1, 2, 3, 4, 5, 6, 7, 8};
  uint64_t activated_with = 0;
  int activations = 0, resets = 0;
  int processed[2] = {};
};

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

class MmioTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = GuestMemory::create_anonymous(kTestMemSize);
    ASSERT_TRUE(m.ok());
    mem_ = std::move(*m);
    auto l = EventLoop::create();
    ASSERT_TRUE(l.ok());
    loop_ = std::make_unique<EventLoop>(std::move(*l));
    auto dev = std::make_unique<FakeDevice>();
    dev_ = dev.get();
    auto t = MmioTransport::create(mem_, *loop_, std::move(dev));
    ASSERT_TRUE(t.ok()) << t.error().message();
    transport_ = std::move(*t);
    driver_ = std::make_unique<TestDriver>(*transport_, mem_);
  }

  GuestMemory mem_;
  std::unique_ptr<EventLoop> loop_;
  FakeDevice* dev_ = nullptr;
  std::unique_ptr<MmioTransport> transport_;
  std::unique_ptr<TestDriver> driver_;
};

TEST_F(MmioTransportTest, IdentityRegisters) {
  EXPECT_EQ(driver_->read32(mmio::kMagicValue), 0x74726976u);
  EXPECT_EQ(driver_->read32(mmio::kVersion), 2u);
  EXPECT_EQ(driver_->read32(mmio::kDeviceId), 42u);
  EXPECT_EQ(driver_->read32(mmio::kVendorId), mmio::kVendor);
  driver_->write32(mmio::kDeviceFeaturesSel, 0);
  EXPECT_EQ(driver_->read32(mmio::kDeviceFeatures), 1u << kFakeFeature);
  driver_->write32(mmio::kDeviceFeaturesSel, 1);
  EXPECT_EQ(driver_->read32(mmio::kDeviceFeatures), 1u);
  driver_->write32(mmio::kDeviceFeaturesSel, 2);
  EXPECT_EQ(driver_->read32(mmio::kDeviceFeatures), 0u);
  // Narrow register reads are not allowed and read as zero.
  uint16_t narrow = 0xffff;
  transport_->mmio_read(mmio::kMagicValue, {reinterpret_cast<uint8_t*>(&narrow), 2});
  EXPECT_EQ(narrow, 0);
}

TEST_F(MmioTransportTest, ConfigSpaceAnyWidth) {
  uint8_t b = 0;
  transport_->mmio_read(mmio::kConfig + 3, {&b, 1});
  EXPECT_EQ(b, 4);
  EXPECT_EQ(driver_->read32(mmio::kConfig + 4), 0x08070605u);
  EXPECT_EQ(driver_->read_config64(0), 0x0807060504030201u);
  EXPECT_EQ(driver_->read32(mmio::kConfig + 8), 0u) << "past the config reads as zero";
}

TEST_F(MmioTransportTest, NegotiatesOfferedFeaturesOnly) {
  EXPECT_EQ(driver_->init(),
            kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_EQ(dev_->activations, 1);
  EXPECT_EQ(dev_->activated_with, feature_bit(kFeatureVersion1) | feature_bit(kFakeFeature));
  // Driver features are frozen after FEATURES_OK.
  driver_->write32(mmio::kDriverFeaturesSel, 0);
  driver_->write32(mmio::kDriverFeatures, 0);
  EXPECT_EQ(transport_->save().acked_features, dev_->activated_with);
}

TEST_F(MmioTransportTest, DropsUnofferedBitsAndRefusesLegacyDriver) {
  driver_->write32(mmio::kStatus, kStatusAcknowledge | kStatusDriver);
  driver_->write32(mmio::kDriverFeaturesSel, 0);
  driver_->write32(mmio::kDriverFeatures, 0xffffffff);  // no VERSION_1 (high word)
  EXPECT_EQ(transport_->save().acked_features, feature_bit(kFakeFeature));
  driver_->write32(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  EXPECT_EQ(driver_->read32(mmio::kStatus), kStatusAcknowledge | kStatusDriver)
      << "FEATURES_OK accepted without VIRTIO_F_VERSION_1";
  driver_->write32(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  EXPECT_EQ(dev_->activations, 0) << "DRIVER_OK accepted without FEATURES_OK";
  EXPECT_EQ(driver_->init(0), kStatusAcknowledge | kStatusDriver);
}

TEST_F(MmioTransportTest, QueueRegisters) {
  driver_->write32(mmio::kQueueSel, 1);
  EXPECT_EQ(driver_->read32(mmio::kQueueNumMax), 256u);
  EXPECT_EQ(driver_->read32(mmio::kQueueReady), 0u);
  driver_->write32(mmio::kQueueSel, 2);
  EXPECT_EQ(driver_->read32(mmio::kQueueNumMax), 0u) << "queue 2 does not exist";
  driver_->setup_queue(1, 64);
  EXPECT_EQ(driver_->read32(mmio::kQueueReady), 1u);
  driver_->write32(mmio::kQueueNum, 32);  // ignored while ready
  driver_->write32(mmio::kQueueDescHigh, 1);
  Queue::State q = transport_->save().queues[1];
  EXPECT_EQ(q.size, 64);
  EXPECT_EQ(q.desc_addr, driver_->desc_addr(1));
  EXPECT_EQ(q.driver_addr, driver_->avail_addr(1));
  EXPECT_EQ(q.device_addr, driver_->used_addr(1));
}

TEST_F(MmioTransportTest, NotifyThroughRegisterAndEventfd) {
  driver_->init();
  const uint64_t buf = driver_->alloc(16);
  driver_->add_chain(0, {{buf, 16, false}});
  driver_->write32(mmio::kQueueNotify, 7);  // no such queue: ignored
  driver_->kick(0);
  drain(*loop_);
  EXPECT_EQ(dev_->processed[0], 1);
  auto used = driver_->next_used(0);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->len, 7u);
  EXPECT_TRUE(readable(transport_->irq_fd()));
  EXPECT_EQ(driver_->read32(mmio::kInterruptStatus), kInterruptUsedBuffer);
  driver_->write32(mmio::kInterruptAck, kInterruptUsedBuffer);
  EXPECT_EQ(driver_->read32(mmio::kInterruptStatus), 0u);

  // KVM's ioeventfd path: the eventfd itself.
  driver_->add_chain(1, {{buf, 16, false}});
  const uint64_t one = 1;
  ASSERT_EQ(::write(transport_->queue_notify_fd(1), &one, 8), 8);
  drain(*loop_);
  EXPECT_EQ(dev_->processed[1], 1);
  EXPECT_TRUE(driver_->next_used(1).has_value());
}

TEST_F(MmioTransportTest, NoProcessingBeforeDriverOk) {
  driver_->setup_queue(0, 16);
  driver_->kick(0);
  drain(*loop_);
  EXPECT_EQ(dev_->processed[0], 0);
}

TEST_F(MmioTransportTest, ResetClearsEverything) {
  driver_->init();
  driver_->write32(mmio::kQueueSel, 1);
  transport_->signal_config_change();
  driver_->write32(mmio::kStatus, 0);
  EXPECT_EQ(dev_->resets, 2);  // once from init(), once now
  MmioTransport::State s = transport_->save();
  EXPECT_EQ(s.status, 0u);
  EXPECT_EQ(s.acked_features, 0u);
  EXPECT_EQ(s.queue_sel, 0u);
  EXPECT_EQ(s.interrupt_status, 0u);
  EXPECT_FALSE(s.queues[0].ready);
  EXPECT_EQ(s.queues[0].desc_addr, 0u);
  // Status bits cannot be cleared except by a reset.
  driver_->init();
  driver_->write32(mmio::kStatus, kStatusAcknowledge);
  EXPECT_TRUE(driver_->read32(mmio::kStatus) & kStatusDriverOk);
}

TEST_F(MmioTransportTest, BadQueueAtDriverOkNeedsReset) {
  driver_->write32(mmio::kStatus, kStatusAcknowledge | kStatusDriver);
  driver_->write32(mmio::kDriverFeaturesSel, 1);
  driver_->write32(mmio::kDriverFeatures, 1);
  driver_->write32(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  driver_->setup_queue(0, 16);
  driver_->write32(mmio::kQueueSel, 1);
  driver_->write32(mmio::kQueueNum, 16);
  driver_->write32(mmio::kQueueDescLow, 0xffff0000);  // beyond 16 MiB of RAM
  driver_->write32(mmio::kQueueReady, 1);
  driver_->write32(mmio::kStatus, 0xf);
  EXPECT_TRUE(driver_->read32(mmio::kStatus) & kStatusNeedsReset);
  EXPECT_EQ(dev_->activations, 0);
  EXPECT_EQ(driver_->read32(mmio::kInterruptStatus), kInterruptConfigChange);
  EXPECT_TRUE(readable(transport_->irq_fd()));
  driver_->kick(0);
  drain(*loop_);
  EXPECT_EQ(dev_->processed[0], 0) << "queue served after NEEDS_RESET";
  EXPECT_EQ(driver_->init(), 0xfu) << "reset did not clear NEEDS_RESET";
}

TEST_F(MmioTransportTest, MalformedChainNeedsReset) {
  driver_->init();
  driver_->write_desc(0, 0, VirtqDesc{0x100000, 4, kDescFlagNext, 0});  // loops on itself
  driver_->publish(0, 0);
  driver_->kick(0);
  drain(*loop_);
  EXPECT_TRUE(transport_->status() & kStatusNeedsReset);
  EXPECT_FALSE(transport_->active());
  EXPECT_TRUE(driver_->read32(mmio::kInterruptStatus) & kInterruptConfigChange);
}

TEST_F(MmioTransportTest, SaveRestoreRoundTrip) {
  driver_->init();
  const uint64_t buf = driver_->alloc(16);
  driver_->add_chain(0, {{buf, 16, false}});
  driver_->kick(0);
  drain(*loop_);
  const MmioTransport::State saved = transport_->save();
  EXPECT_EQ(saved.queues[0].next_avail, 1);
  EXPECT_EQ(saved.queues[0].next_used, 1);

  auto dev = std::make_unique<FakeDevice>();
  FakeDevice* dev2 = dev.get();
  auto t2 = MmioTransport::create(mem_, *loop_, std::move(dev));
  ASSERT_TRUE(t2.ok());
  ASSERT_TRUE((*t2)->restore(saved).ok());
  EXPECT_EQ(dev2->activations, 1);
  const MmioTransport::State again = (*t2)->save();
  EXPECT_EQ(again.status, saved.status);
  EXPECT_EQ(again.acked_features, saved.acked_features);
  EXPECT_EQ(again.queues[0].next_avail, 1);
  EXPECT_EQ(again.queues[1].desc_addr, saved.queues[1].desc_addr);

  MmioTransport::State wrong = saved;
  wrong.device_features ^= feature_bit(kFakeFeature);
  EXPECT_FALSE((*t2)->restore(wrong).ok());
}

}  // namespace
}  // namespace ember::vmm::virtio
