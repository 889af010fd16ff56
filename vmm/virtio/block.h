// Block: a virtio-blk device backed by a host file (or block device).
#pragma once

#include <array>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/virtio/virtio_device.h"

namespace ember::vmm::virtio {

struct BlockConfig {
  std::string path;
  bool read_only = false;
  // Answer to VIRTIO_BLK_T_GET_ID (at most 20 bytes); derived from the file when empty.
  std::string serial;
};

// One request queue. Requests are served synchronously on the event loop with
// preadv/pwritev straight into guest memory; the status byte is written last.
class Block final : public VirtioDevice {
 public:
  static constexpr uint32_t kSectorSize = 512;
  static constexpr uint32_t kSerialLen = 20;  // VIRTIO_BLK_ID_BYTES

  struct State {
    uint64_t capacity_sectors = 0;
    bool read_only = false;
    std::string serial;
  };

  static Result<std::unique_ptr<Block>> open(const BlockConfig& config);

  uint64_t capacity_sectors() const { return capacity_sectors_; }
  bool read_only() const { return read_only_; }
  // The device's identity; restore() refuses a backing file of another size or mode.
  State save() const { return {capacity_sectors_, read_only_, serial_}; }
  Status restore(const State& state);

  // VirtioDevice
  uint32_t device_id() const override;
  uint64_t features() const override;
  uint16_t num_queues() const override { return 1; }
  void attach(VirtioTransport& transport) override { transport_ = &transport; }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override;
  void activate(uint64_t /*acked*/) override {}
  void process_queue(uint16_t index) override;
  void reset() override {}

 private:
  Block(UniqueFd fd, uint64_t capacity_sectors, bool read_only, std::string serial);

  // Serves one request and returns how many bytes it wrote into the chain.
  uint32_t handle(const DescriptorChain& chain);
  uint8_t do_io(const DescriptorChain& chain, uint32_t type, uint64_t sector,
                uint64_t* data_written);

  UniqueFd fd_;
  uint64_t capacity_sectors_ = 0;
  bool read_only_ = false;
  std::string serial_;
  std::array<uint8_t, 24> config_{};
  VirtioTransport* transport_ = nullptr;
};

}  // namespace ember::vmm::virtio
