// SnapshotState encoding: fields in a fixed order, KVM structs as size-checked raw blobs.
#include "vmm/snapshot/snapshot_state.h"

#include "vmm/boot/layout.h"
#include "vmm/snapshot/byte_io.h"
#include "vmm/vmm_config.h"

namespace ember::vmm {
namespace {

constexpr uint32_t kMaxPath = 4096;
constexpr uint32_t kMaxCmdline = 64 * 1024;
constexpr uint32_t kMaxCpuidEntries = 512;
constexpr uint32_t kMaxMsrs = 4096;
constexpr uint32_t kMaxXsave = 1u << 20;
constexpr uint32_t kMaxQueues = 16;

Error invalid(const std::string& why) { return make_error("read snapshot state", why); }

void put_machine(ByteWriter& w, const SnapshotMachine& m) {
  w.u64(m.mem_mib);
  w.u32(m.vcpus);
  w.u32(static_cast<uint32_t>(m.disks.size()));
  for (const SnapshotDisk& d : m.disks) {
    w.string(d.path);
    w.boolean(d.read_only);
    w.boolean(d.is_root);
  }
  w.boolean(m.has_vsock);
  w.u32(m.vsock_cid);
  w.string(m.vsock_uds);
  w.string(m.cmdline);
  w.boolean(m.console);
  w.boolean(m.has_net);
  for (uint8_t b : m.net_mac) w.u8(b);
}

Result<virtio::MacAddress> get_mac(ByteReader& r, const char* what) {
  virtio::MacAddress mac{};
  for (uint8_t& b : mac) {
    EMBER_TRY(b, r.u8(what));
  }
  return mac;
}

Result<SnapshotMachine> get_machine(ByteReader& r) {
  SnapshotMachine m;
  EMBER_TRY(m.mem_mib, r.u64("mem_mib"));
  if (m.mem_mib < kMinMemMib || m.mem_mib > kMaxMemMib) {
    return invalid("memory size " + std::to_string(m.mem_mib) + " MiB is out of range");
  }
  EMBER_TRY(m.vcpus, r.u32("vcpus"));
  if (m.vcpus < 1 || m.vcpus > layout::kMaxVcpus) {
    return invalid("vCPU count " + std::to_string(m.vcpus) + " is out of range");
  }
  EMBER_TRY(uint32_t disks, r.u32("disk count"));
  if (disks > layout::kMaxVirtioDevices) return invalid("too many disks");
  for (uint32_t i = 0; i < disks; ++i) {
    SnapshotDisk d;
    EMBER_TRY(d.path, r.string("disk path", kMaxPath));
    EMBER_TRY(d.read_only, r.boolean("disk read-only flag"));
    EMBER_TRY(d.is_root, r.boolean("disk root flag"));
    if (d.is_root && i != 0) return invalid("the root disk must come first");
    m.disks.push_back(std::move(d));
  }
  EMBER_TRY(m.has_vsock, r.boolean("vsock flag"));
  EMBER_TRY(m.vsock_cid, r.u32("vsock cid"));
  EMBER_TRY(m.vsock_uds, r.string("vsock path", kMaxPath));
  EMBER_TRY(m.cmdline, r.string("kernel command line", kMaxCmdline));
  EMBER_TRY(m.console, r.boolean("console flag"));
  EMBER_TRY(m.has_net, r.boolean("network flag"));
  EMBER_TRY(m.net_mac, get_mac(r, "network MAC"));
  return m;
}

void put_vcpu(ByteWriter& w, const VcpuState& v) {
  w.u32(v.id);
  w.u32(static_cast<uint32_t>(v.cpuid.size()));
  for (const kvm_cpuid_entry2& e : v.cpuid) w.pod(e);
  w.pod(v.regs);
  w.pod(v.sregs);
  w.blob(v.xsave);
  w.pod(v.xcrs);
  w.pod(v.debugregs);
  w.u32(static_cast<uint32_t>(v.msrs.size()));
  for (const kvm_msr_entry& e : v.msrs) w.pod(e);
  w.pod(v.lapic);
  w.pod(v.events);
  w.pod(v.mp_state);
  w.u32(v.tsc_khz);
}

Result<VcpuState> get_vcpu(ByteReader& r) {
  VcpuState v;
  EMBER_TRY(v.id, r.u32("vcpu id"));
  EMBER_TRY(uint32_t n_cpuid, r.u32("cpuid count"));
  if (n_cpuid > kMaxCpuidEntries) return invalid("too many CPUID entries");
  for (uint32_t i = 0; i < n_cpuid; ++i) {
    EMBER_TRY(kvm_cpuid_entry2 e, r.pod<kvm_cpuid_entry2>("cpuid entry"));
    v.cpuid.push_back(e);
  }
  EMBER_TRY(v.regs, r.pod<kvm_regs>("regs"));
  EMBER_TRY(v.sregs, r.pod<kvm_sregs>("sregs"));
  EMBER_TRY(v.xsave, r.blob("xsave", kMaxXsave));
  if (v.xsave.size() < 4096) return invalid("XSAVE area shorter than 4096 bytes");
  EMBER_TRY(v.xcrs, r.pod<kvm_xcrs>("xcrs"));
  if (v.xcrs.nr_xcrs > KVM_MAX_XCRS) return invalid("too many XCRs");
  EMBER_TRY(v.debugregs, r.pod<kvm_debugregs>("debugregs"));
  EMBER_TRY(uint32_t n_msrs, r.u32("msr count"));
  if (n_msrs > kMaxMsrs) return invalid("too many MSRs");
  for (uint32_t i = 0; i < n_msrs; ++i) {
    EMBER_TRY(kvm_msr_entry e, r.pod<kvm_msr_entry>("msr"));
    v.msrs.push_back(e);
  }
  EMBER_TRY(v.lapic, r.pod<kvm_lapic_state>("lapic"));
  EMBER_TRY(v.events, r.pod<kvm_vcpu_events>("vcpu events"));
  EMBER_TRY(v.mp_state, r.pod<kvm_mp_state>("mp state"));
  EMBER_TRY(v.tsc_khz, r.u32("tsc khz"));
  return v;
}

void put_queue(ByteWriter& w, const virtio::Queue::State& q) {
  w.u16(q.max_size);
  w.u16(q.size);
  w.boolean(q.ready);
  w.u64(q.desc_addr);
  w.u64(q.driver_addr);
  w.u64(q.device_addr);
  w.u16(q.next_avail);
  w.u16(q.next_used);
}

Result<virtio::Queue::State> get_queue(ByteReader& r) {
  virtio::Queue::State q;
  EMBER_TRY(q.max_size, r.u16("queue max size"));
  EMBER_TRY(q.size, r.u16("queue size"));
  if (q.max_size > virtio::kMaxQueueSize || q.size > q.max_size) {
    return invalid("queue size " + std::to_string(q.size) + " out of range");
  }
  EMBER_TRY(q.ready, r.boolean("queue ready"));
  EMBER_TRY(q.desc_addr, r.u64("queue desc"));
  EMBER_TRY(q.driver_addr, r.u64("queue driver"));
  EMBER_TRY(q.device_addr, r.u64("queue device"));
  EMBER_TRY(q.next_avail, r.u16("queue next avail"));
  EMBER_TRY(q.next_used, r.u16("queue next used"));
  return q;
}

void put_virtio(ByteWriter& w, const VirtioDeviceState& d) {
  w.u8(static_cast<uint8_t>(d.kind));
  if (d.kind == VirtioDeviceState::Kind::kBlock) {
    w.u64(d.block.capacity_sectors);
    w.boolean(d.block.read_only);
    w.string(d.block.serial);
  } else if (d.kind == VirtioDeviceState::Kind::kVsock) {
    w.u64(d.vsock.guest_cid);
  } else {
    for (uint8_t b : d.net.mac) w.u8(b);
    w.u64(d.net.acked_features);
  }
  const auto& t = d.transport;
  w.u64(t.device_features);
  w.u64(t.acked_features);
  w.u32(t.device_features_sel);
  w.u32(t.driver_features_sel);
  w.u32(t.queue_sel);
  w.u32(t.status);
  w.u32(t.interrupt_status);
  w.u32(t.config_generation);
  w.u32(static_cast<uint32_t>(t.queues.size()));
  for (const auto& q : t.queues) put_queue(w, q);
}

Result<VirtioDeviceState> get_virtio(ByteReader& r) {
  VirtioDeviceState d;
  EMBER_TRY(uint8_t kind, r.u8("virtio device kind"));
  if (kind == static_cast<uint8_t>(VirtioDeviceState::Kind::kBlock)) {
    d.kind = VirtioDeviceState::Kind::kBlock;
    EMBER_TRY(d.block.capacity_sectors, r.u64("block capacity"));
    EMBER_TRY(d.block.read_only, r.boolean("block read-only"));
    EMBER_TRY(d.block.serial, r.string("block serial", virtio::Block::kSerialLen));
  } else if (kind == static_cast<uint8_t>(VirtioDeviceState::Kind::kVsock)) {
    d.kind = VirtioDeviceState::Kind::kVsock;
    EMBER_TRY(d.vsock.guest_cid, r.u64("vsock cid"));
  } else if (kind == static_cast<uint8_t>(VirtioDeviceState::Kind::kNet)) {
    d.kind = VirtioDeviceState::Kind::kNet;
    EMBER_TRY(d.net.mac, get_mac(r, "net MAC"));
    EMBER_TRY(d.net.acked_features, r.u64("net acked features"));
  } else {
    return invalid("unknown virtio device kind " + std::to_string(kind));
  }
  auto& t = d.transport;
  EMBER_TRY(t.device_features, r.u64("device features"));
  EMBER_TRY(t.acked_features, r.u64("acked features"));
  EMBER_TRY(t.device_features_sel, r.u32("device features sel"));
  EMBER_TRY(t.driver_features_sel, r.u32("driver features sel"));
  EMBER_TRY(t.queue_sel, r.u32("queue sel"));
  EMBER_TRY(t.status, r.u32("status"));
  EMBER_TRY(t.interrupt_status, r.u32("interrupt status"));
  EMBER_TRY(t.config_generation, r.u32("config generation"));
  EMBER_TRY(uint32_t queues, r.u32("queue count"));
  if (queues > kMaxQueues) return invalid("too many queues");
  for (uint32_t i = 0; i < queues; ++i) {
    EMBER_TRY(virtio::Queue::State q, get_queue(r));
    t.queues.push_back(q);
  }
  return d;
}

void put_devices(ByteWriter& w, const DeviceStates& d) {
  const Serial::State& s = d.serial;
  for (uint8_t b : {s.ier, s.lcr, s.mcr, s.scr, s.fcr, s.dll, s.dlm}) w.u8(b);
  w.boolean(s.thr_interrupt_pending);
  w.blob(s.rx);
  for (uint8_t b : {d.i8042.ctr, d.i8042.status, d.i8042.output, d.i8042.pending_command}) w.u8(b);
  w.u32(static_cast<uint32_t>(d.virtio.size()));
  for (const VirtioDeviceState& v : d.virtio) put_virtio(w, v);
}

Result<DeviceStates> get_devices(ByteReader& r) {
  DeviceStates d;
  Serial::State& s = d.serial;
  for (uint8_t* b : {&s.ier, &s.lcr, &s.mcr, &s.scr, &s.fcr, &s.dll, &s.dlm}) {
    EMBER_TRY(*b, r.u8("serial register"));
  }
  EMBER_TRY(s.thr_interrupt_pending, r.boolean("serial thr pending"));
  EMBER_TRY(s.rx, r.blob("serial rx", kSerialRxCapacity));
  I8042::State& k = d.i8042;
  for (uint8_t* b : {&k.ctr, &k.status, &k.output, &k.pending_command}) {
    EMBER_TRY(*b, r.u8("i8042 register"));
  }
  EMBER_TRY(uint32_t n, r.u32("virtio device count"));
  if (n > layout::kMaxVirtioDevices) return invalid("too many virtio devices");
  for (uint32_t i = 0; i < n; ++i) {
    EMBER_TRY(VirtioDeviceState v, get_virtio(r));
    d.virtio.push_back(std::move(v));
  }
  return d;
}

}  // namespace

std::vector<uint8_t> encode_snapshot(const SnapshotState& state) {
  ByteWriter w;
  put_machine(w, state.machine);
  w.pod(state.vm.pic_master);
  w.pod(state.vm.pic_slave);
  w.pod(state.vm.ioapic);
  w.pod(state.vm.pit);
  w.pod(state.vm.clock);
  w.u32(static_cast<uint32_t>(state.vcpus.size()));
  for (const VcpuState& v : state.vcpus) put_vcpu(w, v);
  put_devices(w, state.devices);
  return w.take();
}

Result<SnapshotState> decode_snapshot(std::span<const uint8_t> payload) {
  ByteReader r(payload);
  SnapshotState s;
  EMBER_TRY(s.machine, get_machine(r));
  EMBER_TRY(s.vm.pic_master, r.pod<kvm_irqchip>("PIC master"));
  EMBER_TRY(s.vm.pic_slave, r.pod<kvm_irqchip>("PIC slave"));
  EMBER_TRY(s.vm.ioapic, r.pod<kvm_irqchip>("IOAPIC"));
  EMBER_TRY(s.vm.pit, r.pod<kvm_pit_state2>("PIT"));
  EMBER_TRY(s.vm.clock, r.pod<kvm_clock_data>("KVM clock"));
  EMBER_TRY(uint32_t n, r.u32("vcpu count"));
  if (n != s.machine.vcpus) {
    return invalid(std::to_string(n) + " vCPU states for " + std::to_string(s.machine.vcpus) +
                   " vCPUs");
  }
  for (uint32_t i = 0; i < n; ++i) {
    EMBER_TRY(VcpuState v, get_vcpu(r));
    if (v.id != i) return invalid("vCPU states out of order");
    s.vcpus.push_back(std::move(v));
  }
  EMBER_TRY(s.devices, get_devices(r));
  // The fixed slot order: disks, then vsock, then net.
  std::vector<VirtioDeviceState::Kind> expected(s.machine.disks.size(),
                                                VirtioDeviceState::Kind::kBlock);
  if (s.machine.has_vsock) expected.push_back(VirtioDeviceState::Kind::kVsock);
  if (s.machine.has_net) expected.push_back(VirtioDeviceState::Kind::kNet);
  if (s.devices.virtio.size() != expected.size()) {
    return invalid("virtio device states do not match the machine's disks, vsock and network");
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    if (s.devices.virtio[i].kind != expected[i]) {
      return invalid("virtio device " + std::to_string(i) + " has the wrong kind");
    }
  }
  if (r.remaining() != 0) {
    return invalid(std::to_string(r.remaining()) + " unexpected bytes after the device states");
  }
  return s;
}

}  // namespace ember::vmm
