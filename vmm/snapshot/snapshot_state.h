// SnapshotState: everything state.bin holds (machine config, KVM VM and vCPU state, devices).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/serial.h"
#include "vmm/virtio/block.h"
#include "vmm/virtio/mmio_transport.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/vsock.h"

namespace ember::vmm {

// Bumped whenever the payload layout (or a KVM struct stored raw in it) changes.
// 2: the network device (machine flag and MAC, device state).
inline constexpr uint32_t kSnapshotVersion = 2;

struct SnapshotDisk {
  std::string path;
  bool read_only = false;
  bool is_root = false;  // the --root device (/dev/vda)
};

// The VM's shape: what --restore rebuilds before it loads any state.
struct SnapshotMachine {
  uint64_t mem_mib = 0;
  uint32_t vcpus = 0;
  std::vector<SnapshotDisk> disks;  // in virtio slot order (root first)
  bool has_vsock = false;
  uint32_t vsock_cid = 0;
  std::string vsock_uds;
  std::string cmdline;  // the kernel command line the guest booted with (informational)
  bool console = false;
  bool has_net = false;  // a virtio-net device in the last slot; restore needs --net-fd
  virtio::MacAddress net_mac{};
};

struct VcpuState {
  uint32_t id = 0;
  std::vector<kvm_cpuid_entry2> cpuid;
  kvm_regs regs{};
  kvm_sregs sregs{};
  std::vector<uint8_t> xsave;  // KVM_GET_XSAVE(2) bytes, at least 4096
  kvm_xcrs xcrs{};
  kvm_debugregs debugregs{};
  std::vector<kvm_msr_entry> msrs;  // every MSR that read back, incl. TSC and kvmclock
  kvm_lapic_state lapic{};
  kvm_vcpu_events events{};
  kvm_mp_state mp_state{};
  uint32_t tsc_khz = 0;  // 0: unknown
};

struct VmState {
  kvm_irqchip pic_master{};
  kvm_irqchip pic_slave{};
  kvm_irqchip ioapic{};
  kvm_pit_state2 pit{};
  kvm_clock_data clock{};
};

struct VirtioDeviceState {
  enum class Kind : uint8_t { kBlock = 1, kVsock = 2, kNet = 3 };
  Kind kind = Kind::kBlock;
  virtio::Block::State block;  // for kBlock
  virtio::Vsock::State vsock;  // for kVsock
  virtio::Net::State net;      // for kNet
  virtio::MmioTransport::State transport;
};

// In attach order: serial, i8042, then the virtio-mmio slots (disks, vsock, net).
struct DeviceStates {
  Serial::State serial;
  I8042::State i8042;
  std::vector<VirtioDeviceState> virtio;
};

struct SnapshotState {
  SnapshotMachine machine;
  VmState vm;
  std::vector<VcpuState> vcpus;
  DeviceStates devices;
};

// The payload of state.bin (without the file's header and checksum).
std::vector<uint8_t> encode_snapshot(const SnapshotState& state);
// Parses and sanity-checks a payload; every length and count is bounded.
Result<SnapshotState> decode_snapshot(std::span<const uint8_t> payload);

}  // namespace ember::vmm
