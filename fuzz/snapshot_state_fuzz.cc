// snapshot_state: state.bin, its container (magic, version, length, CRC-32) and the payload
// a restore trusts; a decoded payload must re-encode to bytes that decode the same.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "vmm/snapshot/snapshot_state.h"
#include "vmm/snapshot/state_file.h"

namespace ember::fuzz {
namespace {

using vmm::SnapshotState;

// The input's first byte: 0 feeds the rest to decode_snapshot as a payload (checksums
// would stop the fuzzer at the container), anything else as a whole state file.
constexpr uint8_t kWholeFile = 1;

SnapshotState example(uint32_t vcpus, bool vsock, bool net, size_t disks) {
  SnapshotState s;
  s.machine.mem_mib = 256;
  s.machine.vcpus = vcpus;
  for (size_t i = 0; i < disks; ++i) {
    s.machine.disks.push_back({"/var/lib/ember/disk" + std::to_string(i) + ".img", i > 0, i == 0});
  }
  s.machine.has_vsock = vsock;
  s.machine.vsock_cid = vsock ? 3 : 0;
  s.machine.vsock_uds = vsock ? "/run/ember/vm.vsock" : "";
  s.machine.cmdline = "console=ttyS0 reboot=k panic=1 root=/dev/vda ro";
  s.machine.console = true;
  s.machine.has_net = net;
  s.machine.net_mac = {0x02, 0xec, 0, 0, 0, 1};
  s.vm.ioapic.chip_id = 2;
  s.vm.clock.clock = 123456789;
  for (uint32_t id = 0; id < vcpus; ++id) {
    vmm::VcpuState v;
    v.id = id;
    kvm_cpuid_entry2 leaf{};
    leaf.function = 0x1;
    leaf.eax = 0x806f8;
    v.cpuid = {leaf, leaf};
    v.cpuid[1].function = 0x7;
    v.regs.rip = 0x1000000;
    v.regs.rflags = 2;
    v.sregs.cr0 = 0x80050033;
    v.xsave.assign(4096, 0);
    v.xsave[0] = 0x7f;
    v.xcrs.nr_xcrs = 1;
    v.msrs = {{0x10, 0, 42}, {0x4b564d01, 0, 0x1000}};
    v.mp_state.mp_state = KVM_MP_STATE_RUNNABLE;
    v.tsc_khz = 2400000;
    s.vcpus.push_back(std::move(v));
  }
  s.devices.serial.rx = {'h', 'i'};
  using Kind = vmm::VirtioDeviceState::Kind;
  auto device = [](Kind kind, size_t queues) {
    vmm::VirtioDeviceState d;
    d.kind = kind;
    d.transport.status = 0xf;
    d.transport.acked_features = 1ull << 32;
    for (size_t q = 0; q < queues; ++q) {
      vmm::virtio::Queue::State qs;
      qs.size = 256;
      qs.ready = true;
      qs.desc_addr = 0x100000 * (q + 1);
      qs.driver_addr = qs.desc_addr + 0x1000;
      qs.device_addr = qs.desc_addr + 0x2000;
      qs.next_avail = qs.next_used = static_cast<uint16_t>(7 * q);
      d.transport.queues.push_back(qs);
    }
    return d;
  };
  for (size_t i = 0; i < disks; ++i) {
    auto d = device(Kind::kBlock, 1);
    d.block = {2048 * (i + 1), i > 0, "serial-" + std::to_string(i)};
    s.devices.virtio.push_back(d);
  }
  if (vsock) {
    auto d = device(Kind::kVsock, 3);
    d.vsock.guest_cid = 3;
    s.devices.virtio.push_back(d);
  }
  if (net) {
    auto d = device(Kind::kNet, 2);
    d.net.mac = s.machine.net_mac;
    s.devices.virtio.push_back(d);
  }
  return s;
}

void write_seeds(const std::string& dir) {
  auto seed = [&](const std::string& name, const SnapshotState& s, bool whole_file) {
    std::vector<uint8_t> payload = vmm::encode_snapshot(s);
    EMBER_FUZZ_ASSERT(vmm::decode_snapshot(payload).ok());
    std::vector<uint8_t> bytes =
        whole_file ? vmm::frame_state(vmm::kSnapshotVersion, payload) : payload;
    bytes.insert(bytes.begin(), whole_file ? kWholeFile : 0);
    write_seed(dir, name, bytes);
  };
  seed("one_vcpu_root_disk", example(1, false, false, 1), false);
  seed("two_vcpus_vsock_net", example(2, true, true, 2), false);
  seed("three_disks_vsock", example(1, true, false, 3), false);
  seed("state_file", example(1, true, false, 1), true);
}

}  // namespace
}  // namespace ember::fuzz

EMBER_FUZZ_SEEDS(ember::fuzz::write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  using namespace ember::fuzz;
  if (size < 1) return 0;
  std::span<const uint8_t> input(data + 1, size - 1);
  std::vector<uint8_t> payload;
  if (data[0] == kWholeFile) {
    auto unframed = vmm::unframe_state(input, vmm::kSnapshotVersion);
    if (!unframed.ok()) return 0;
    payload = std::move(unframed).value();
    // A file the container accepts is exactly the frame of its payload.
    const std::vector<uint8_t> framed = vmm::frame_state(vmm::kSnapshotVersion, payload);
    EMBER_FUZZ_ASSERT(std::equal(framed.begin(), framed.end(), input.begin(), input.end()));
  } else {
    payload.assign(input.begin(), input.end());
  }
  auto state = vmm::decode_snapshot(payload);
  if (!state.ok()) return 0;
  // decode(encode(decode(x))) == decode(x), compared through a second encoding.
  const std::vector<uint8_t> once = vmm::encode_snapshot(*state);
  auto again = vmm::decode_snapshot(once);
  EMBER_FUZZ_ASSERT(again.ok());
  EMBER_FUZZ_ASSERT(vmm::encode_snapshot(*again) == once);
  auto framed = vmm::unframe_state(vmm::frame_state(vmm::kSnapshotVersion, once),
                                   vmm::kSnapshotVersion);
  EMBER_FUZZ_ASSERT(framed.ok() && *framed == once);
  return 0;
}
