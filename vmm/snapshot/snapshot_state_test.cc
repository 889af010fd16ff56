// SnapshotState encoding: round trip of every part, and refusal of malformed payloads.
#include "vmm/snapshot/snapshot_state.h"

#include <gtest/gtest.h>

#include <cstring>

#include "vmm/snapshot/kvm_state.h"

namespace ember::vmm {
namespace {

SnapshotState sample_state() {
  SnapshotState s;
  s.machine.mem_mib = 256;
  s.machine.vcpus = 2;
  s.machine.disks = {{"/images/root.erofs", true, true}, {"/data/scratch.img", false, false}};
  s.machine.has_vsock = true;
  s.machine.vsock_cid = 7;
  s.machine.vsock_uds = "/run/vm/vsock.sock";
  s.machine.cmdline = "console=ttyS0 root=/dev/vda";
  s.machine.has_net = true;
  s.machine.net_mac = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02};
  s.vm.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
  s.vm.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
  s.vm.clock.clock = 123456789;
  s.vm.pit.flags = 1;
  for (uint32_t id = 0; id < 2; ++id) {
    VcpuState v;
    v.id = id;
    v.regs.rip = 0xffffffff81000000ull + id;
    v.sregs.cr3 = 0x9000;
    v.xsave.assign(4096, static_cast<uint8_t>(id + 1));
    v.xcrs.nr_xcrs = 1;
    v.msrs = {{0x10, 0, 999}, {0x4B564D01, 0, 0x1234}};
    v.cpuid.resize(3);
    v.cpuid[1].function = 1;
    v.lapic.regs[0x20] = static_cast<char>(id);
    v.mp_state.mp_state = KVM_MP_STATE_HALTED;
    v.tsc_khz = 2'000'000;
    s.vcpus.push_back(v);
  }
  s.devices.serial.ier = 3;
  s.devices.serial.rx = {'a', 'b'};
  s.devices.i8042.ctr = 0x47;
  for (int i = 0; i < 4; ++i) {
    VirtioDeviceState d;
    d.kind = i < 2    ? VirtioDeviceState::Kind::kBlock
             : i == 2 ? VirtioDeviceState::Kind::kVsock
                      : VirtioDeviceState::Kind::kNet;
    d.block = {2048u * static_cast<uint64_t>(i + 1), i == 0, "serial" + std::to_string(i)};
    d.vsock.guest_cid = 7;
    d.net = {{0x06, 0x00, 0xac, 0x10, 0x00, 0x02}, (1ull << 32) | (1u << 15)};
    d.transport.status = 0xF;
    d.transport.acked_features = 1ull << 32;
    d.transport.queues.resize(i < 2 ? 1 : i == 2 ? 3 : 2);
    d.transport.queues[0].size = 128;
    d.transport.queues[0].ready = true;
    d.transport.queues[0].desc_addr = 0x100000;
    d.transport.queues[0].next_avail = 17;
    s.devices.virtio.push_back(d);
  }
  return s;
}

TEST(SnapshotState, RoundTripsEveryPart) {
  const SnapshotState s = sample_state();
  auto back = decode_snapshot(encode_snapshot(s));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->machine.mem_mib, 256u);
  ASSERT_EQ(back->machine.disks.size(), 2u);
  EXPECT_EQ(back->machine.disks[0].path, "/images/root.erofs");
  EXPECT_TRUE(back->machine.disks[0].read_only);
  EXPECT_TRUE(back->machine.disks[0].is_root);
  EXPECT_FALSE(back->machine.disks[1].read_only);
  EXPECT_EQ(back->machine.vsock_cid, 7u);
  EXPECT_EQ(back->machine.cmdline, s.machine.cmdline);
  EXPECT_EQ(back->vm.clock.clock, 123456789u);
  EXPECT_EQ(back->vm.ioapic.chip_id, static_cast<uint32_t>(KVM_IRQCHIP_IOAPIC));
  ASSERT_EQ(back->vcpus.size(), 2u);
  EXPECT_EQ(back->vcpus[1].regs.rip, 0xffffffff81000001ull);
  EXPECT_EQ(back->vcpus[1].xsave, s.vcpus[1].xsave);
  ASSERT_EQ(back->vcpus[0].msrs.size(), 2u);
  EXPECT_EQ(back->vcpus[0].msrs[1].data, 0x1234u);
  EXPECT_EQ(back->vcpus[1].lapic.regs[0x20], 1);
  EXPECT_EQ(back->vcpus[0].mp_state.mp_state, static_cast<uint32_t>(KVM_MP_STATE_HALTED));
  EXPECT_EQ(back->devices.serial.rx, (std::vector<uint8_t>{'a', 'b'}));
  EXPECT_EQ(back->devices.i8042.ctr, 0x47);
  EXPECT_TRUE(back->machine.has_net);
  EXPECT_EQ(back->machine.net_mac, s.machine.net_mac);
  ASSERT_EQ(back->devices.virtio.size(), 4u);
  EXPECT_EQ(back->devices.virtio[3].kind, VirtioDeviceState::Kind::kNet);
  EXPECT_EQ(back->devices.virtio[3].net.mac, s.devices.virtio[3].net.mac);
  EXPECT_EQ(back->devices.virtio[3].net.acked_features, (1ull << 32) | (1u << 15));
  EXPECT_EQ(back->devices.virtio[3].transport.queues.size(), 2u);
  EXPECT_EQ(back->devices.virtio[1].block.capacity_sectors, 4096u);
  EXPECT_EQ(back->devices.virtio[1].block.serial, "serial1");
  EXPECT_EQ(back->devices.virtio[2].kind, VirtioDeviceState::Kind::kVsock);
  EXPECT_EQ(back->devices.virtio[2].transport.queues.size(), 3u);
  EXPECT_EQ(back->devices.virtio[0].transport.queues[0].next_avail, 17);
  EXPECT_EQ(back->devices.virtio[0].transport.acked_features, 1ull << 32);
}

TEST(SnapshotState, RefusesEveryTruncation) {
  const auto bytes = encode_snapshot(sample_state());
  for (size_t len = 0; len < bytes.size(); len += 97) {
    auto r = decode_snapshot({bytes.data(), len});
    EXPECT_FALSE(r.ok()) << "accepted a payload cut to " << len << " of " << bytes.size();
  }
  EXPECT_FALSE(decode_snapshot({bytes.data(), bytes.size() - 1}).ok());
}

TEST(SnapshotState, RefusesTrailingBytes) {
  auto bytes = encode_snapshot(sample_state());
  bytes.push_back(0);
  EXPECT_FALSE(decode_snapshot(bytes).ok());
}

TEST(SnapshotState, RefusesMismatchedCountsAndRanges) {
  SnapshotState s = sample_state();
  s.machine.vcpus = 3;  // two vCPU states follow
  EXPECT_FALSE(decode_snapshot(encode_snapshot(s)).ok());
  s = sample_state();
  s.devices.virtio.pop_back();  // network device announced, no state for it
  EXPECT_FALSE(decode_snapshot(encode_snapshot(s)).ok());
  s = sample_state();
  std::swap(s.devices.virtio[2], s.devices.virtio[3]);  // net before vsock
  EXPECT_FALSE(decode_snapshot(encode_snapshot(s)).ok());
  s = sample_state();
  s.machine.has_net = false;  // a network device state nobody announced
  EXPECT_FALSE(decode_snapshot(encode_snapshot(s)).ok());
  s = sample_state();
  s.machine.has_net = false;
  s.devices.virtio.pop_back();
  EXPECT_TRUE(decode_snapshot(encode_snapshot(s)).ok()) << "a VM without a network device";
  s = sample_state();
  s.machine.mem_mib = 1;
  EXPECT_FALSE(decode_snapshot(encode_snapshot(s)).ok());
  s = sample_state();
  s.devices.virtio[0].transport.queues[0].size = 1000;  // above the queue maximum
  EXPECT_FALSE(decode_snapshot(encode_snapshot(s)).ok());
  s = sample_state();
  s.vcpus[0].xsave.resize(100);
  EXPECT_FALSE(decode_snapshot(encode_snapshot(s)).ok());
}

TEST(KvmState, MsrListAddsTheEssentialsOnce) {
  const uint32_t from_kvm[] = {0x10, 0x10, 0xC0000080, 0x4B564D01};
  const auto list = msrs_to_capture(from_kvm);
  EXPECT_EQ(std::count(list.begin(), list.end(), 0x10u), 1);
  for (uint32_t want : {0x6E0u, 0x4B564D00u, 0x277u, 0x2FFu, 0x200u, 0xC0000080u}) {
    EXPECT_NE(std::find(list.begin(), list.end(), want), list.end()) << std::hex << want;
  }
}

TEST(KvmState, RestoreOrderPutsTscFirstAndDeadlineLast) {
  std::vector<kvm_msr_entry> msrs = {{0x6E0, 0, 5}, {0x277, 0, 1}, {0x10, 0, 9}, {0x3B, 0, 2}};
  const auto ordered = order_msrs_for_restore(msrs);
  ASSERT_EQ(ordered.size(), 4u);
  EXPECT_EQ(ordered.front().index, 0x10u);
  EXPECT_EQ(ordered.back().index, 0x6E0u);
  EXPECT_EQ(ordered[1].index, 0x277u);  // the others keep their order
}

}  // namespace
}  // namespace ember::vmm
