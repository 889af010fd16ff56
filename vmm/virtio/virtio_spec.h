// Constants and wire layouts from the virtio 1.1 specification used by Ember's devices.
#pragma once

#include <cstdint>

namespace ember::vmm::virtio {

// Device status bits (2.1).
inline constexpr uint32_t kStatusAcknowledge = 1;
inline constexpr uint32_t kStatusDriver = 2;
inline constexpr uint32_t kStatusDriverOk = 4;
inline constexpr uint32_t kStatusFeaturesOk = 8;
inline constexpr uint32_t kStatusNeedsReset = 64;
inline constexpr uint32_t kStatusFailed = 128;

// Transport-level feature bits (6).
inline constexpr uint32_t kFeatureRingIndirectDesc = 28;
inline constexpr uint32_t kFeatureRingEventIdx = 29;
inline constexpr uint32_t kFeatureVersion1 = 32;

inline constexpr uint64_t feature_bit(uint32_t bit) { return uint64_t{1} << bit; }

// InterruptStatus bits of virtio-mmio (4.2.2).
inline constexpr uint32_t kInterruptUsedBuffer = 1;
inline constexpr uint32_t kInterruptConfigChange = 2;

// Device IDs (5).
inline constexpr uint32_t kDeviceIdNet = 1;
inline constexpr uint32_t kDeviceIdBlock = 2;
inline constexpr uint32_t kDeviceIdVsock = 19;

// Split virtqueue descriptor flags (2.7.5).
inline constexpr uint16_t kDescFlagNext = 1;
inline constexpr uint16_t kDescFlagWrite = 2;
inline constexpr uint16_t kDescFlagIndirect = 4;
inline constexpr uint16_t kAvailFlagNoInterrupt = 1;

// A descriptor-table entry as the driver lays it out in guest memory (little endian;
// Ember only runs on little-endian x86-64 hosts).
struct VirtqDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(VirtqDesc) == 16);

struct VirtqUsedElem {
  uint32_t id;
  uint32_t len;
};
static_assert(sizeof(VirtqUsedElem) == 8);

// virtio-net feature bits (5.1.3), config status bits (5.1.4) and header flags (5.1.6).
namespace net {
inline constexpr uint32_t kFeatureCsum = 0;       // device takes partially checksummed frames
inline constexpr uint32_t kFeatureGuestCsum = 1;  // driver takes partially checksummed frames
inline constexpr uint32_t kFeatureMac = 5;
inline constexpr uint32_t kFeatureGuestTso4 = 7;
inline constexpr uint32_t kFeatureGuestTso6 = 8;
inline constexpr uint32_t kFeatureGuestEcn = 9;
inline constexpr uint32_t kFeatureGuestUfo = 10;
inline constexpr uint32_t kFeatureHostTso4 = 11;
inline constexpr uint32_t kFeatureHostTso6 = 12;
inline constexpr uint32_t kFeatureHostEcn = 13;
inline constexpr uint32_t kFeatureHostUfo = 14;
inline constexpr uint32_t kFeatureMrgRxbuf = 15;
inline constexpr uint32_t kFeatureStatus = 16;
inline constexpr uint32_t kFeatureCtrlVq = 17;
inline constexpr uint32_t kFeatureMq = 22;

inline constexpr uint16_t kStatusLinkUp = 1;

inline constexpr uint8_t kHdrFlagNeedsCsum = 1;
inline constexpr uint8_t kHdrFlagDataValid = 2;
inline constexpr uint8_t kGsoNone = 0;
inline constexpr uint8_t kGsoTcpv4 = 1;
}  // namespace net

// struct virtio_net_hdr_v1: in front of every frame either way. With VIRTIO_F_VERSION_1 it
// always has num_buffers, so it is 12 bytes whether or not MRG_RXBUF is negotiated.
struct VirtioNetHeader {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t num_buffers;
};
static_assert(sizeof(VirtioNetHeader) == 12);

// virtio-mmio register offsets (4.2.2), version 2.
namespace mmio {
inline constexpr uint64_t kMagicValue = 0x000;
inline constexpr uint64_t kVersion = 0x004;
inline constexpr uint64_t kDeviceId = 0x008;
inline constexpr uint64_t kVendorId = 0x00c;
inline constexpr uint64_t kDeviceFeatures = 0x010;
inline constexpr uint64_t kDeviceFeaturesSel = 0x014;
inline constexpr uint64_t kDriverFeatures = 0x020;
inline constexpr uint64_t kDriverFeaturesSel = 0x024;
inline constexpr uint64_t kQueueSel = 0x030;
inline constexpr uint64_t kQueueNumMax = 0x034;
inline constexpr uint64_t kQueueNum = 0x038;
inline constexpr uint64_t kQueueReady = 0x044;
inline constexpr uint64_t kQueueNotify = 0x050;
inline constexpr uint64_t kInterruptStatus = 0x060;
inline constexpr uint64_t kInterruptAck = 0x064;
inline constexpr uint64_t kStatus = 0x070;
inline constexpr uint64_t kQueueDescLow = 0x080;
inline constexpr uint64_t kQueueDescHigh = 0x084;
inline constexpr uint64_t kQueueDriverLow = 0x090;
inline constexpr uint64_t kQueueDriverHigh = 0x094;
inline constexpr uint64_t kQueueDeviceLow = 0x0a0;
inline constexpr uint64_t kQueueDeviceHigh = 0x0a4;
inline constexpr uint64_t kConfigGeneration = 0x0fc;
inline constexpr uint64_t kConfig = 0x100;
inline constexpr uint64_t kWindowSize = 0x1000;

inline constexpr uint32_t kMagic = 0x74726976;   // "virt"
inline constexpr uint32_t kVendor = 0x524d4245;  // "EBMR" read as little endian
}  // namespace mmio

}  // namespace ember::vmm::virtio
