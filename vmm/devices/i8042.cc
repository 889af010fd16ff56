// I8042: controller commands, the output buffer and the reset line.
#include "vmm/devices/i8042.h"

#include <cstring>

namespace ember::vmm {

void I8042::put_output(uint8_t value) {
  s_.output = value;
  s_.status |= kStatusOutputFull;
}

void I8042::mmio_read(uint64_t offset, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());
  if (data.empty()) return;
  std::lock_guard lock(mu_);
  if (offset == kDataOffset) {
    data[0] = s_.output;
    s_.status &= static_cast<uint8_t>(~kStatusOutputFull);
  } else if (offset == kCommandOffset) {
    data[0] = s_.status;
  }
}

void I8042::mmio_write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  const uint8_t value = data[0];
  bool reset = false;
  {
    std::lock_guard lock(mu_);
    if (offset == kCommandOffset) {
      s_.status |= kStatusCommand;
      s_.pending_command = 0;
      switch (value) {
        case kCmdReadCtr: put_output(s_.ctr); break;
        case kCmdWriteCtr: s_.pending_command = value; break;
        case kCmdSelfTest: put_output(0x55); break;
        case kCmdKbdTest: put_output(0x00); break;
        case kCmdDisableKbd: s_.ctr |= 0x10; break;
        case kCmdEnableKbd: s_.ctr &= static_cast<uint8_t>(~0x10); break;
        case kCmdResetCpu: reset = true; break;
        default: break;  // aux port and output port commands: ignored
      }
    } else if (offset == kDataOffset) {
      s_.status &= static_cast<uint8_t>(~kStatusCommand);
      if (s_.pending_command == kCmdWriteCtr) {
        s_.ctr = value;
      }
      s_.pending_command = 0;
    }
  }
  if (reset && on_reset_) on_reset_();
}

I8042::State I8042::save() const {
  std::lock_guard lock(mu_);
  return s_;
}

void I8042::restore(const State& state) {
  std::lock_guard lock(mu_);
  s_ = state;
}

}  // namespace ember::vmm
