// VmmConfig: flag parsing with Boost.Program_options.
#include "vmm/vmm_config.h"

#include <boost/program_options.hpp>
#include <sstream>

#include "vmm/boot/layout.h"

namespace po = boost::program_options;

namespace ember::vmm {
namespace {

po::options_description describe_flags() {
  po::options_description d("ember-vmm: boots one microVM from a vmlinux ELF\n\nOptions");
  // clang-format off
  d.add_options()
      ("help,h", "print this help and exit")
      ("kernel", po::value<std::string>(),
       "guest kernel: an uncompressed x86-64 vmlinux ELF (required)")
      ("initrd", po::value<std::string>(), "initramfs loaded at the top of low guest RAM")
      ("root", po::value<std::string>(), "root disk image (erofs), attached read-only as /dev/vda")
      ("disk", po::value<std::vector<std::string>>()->composing(),
       "PATH[:ro|:rw] further disk, /dev/vdb, /dev/vdc, ... in order (default :rw); repeatable")
      ("mem-mib", po::value<uint64_t>()->default_value(128), "guest RAM in MiB (16..1048576)")
      ("vcpus", po::value<uint32_t>()->default_value(1), "number of vCPUs (1..32)")
      ("vsock-cid", po::value<uint32_t>(), "guest vsock CID (default 3; needs --vsock-uds)")
      ("vsock-uds", po::value<std::string>(),
       "Unix socket path of the vsock device's host side (enables virtio-vsock)")
      ("cmdline", po::value<std::string>(), "extra kernel command line arguments, appended last")
      ("console", po::bool_switch(),
       "copy the guest serial console to stderr (without it the kernel runs with loglevel=1; "
       "the last 16 KiB of console output are kept either way to detect a kernel panic)")
      ("log-level", po::value<std::string>()->default_value("warn"),
       "ember-vmm's own messages on stderr: error|warn|info|debug")
      ("api-sock", po::value<std::string>(),
       "Unix socket for control requests, one JSON object per line: {\"op\":\"pause\"}, "
       "{\"op\":\"resume\"}, {\"op\":\"snapshot\",\"dir\":\"DIR\"} (paused VMs only; "
       "writes DIR/state.bin and DIR/memory.bin), {\"op\":\"stats\"}")
      ("restore", po::value<std::string>(),
       "DIR: restore the snapshot in DIR instead of booting (no --kernel); the snapshot fixes "
       "memory, vCPUs, disks and vsock CID. With --restore, --vsock-uds gives the vsock a new "
       "host socket, --disk PATH[:ro|:rw] (repeated, same count as the snapshot's disks, root "
       "first) replaces the disks in order, and --api-sock and --start-paused apply")
      ("start-paused", po::bool_switch(),
       "with --restore: keep the vCPUs paused until {\"op\":\"resume\"} on --api-sock")
      ("standby", po::bool_switch(),
       "with --api-sock only: start up and create the KVM VM, then wait for one request "
       "{\"op\":\"restore\",\"dir\":\"DIR\",\"vsock_uds\":\"PATH\",\"disks\":[...],"
       "\"start_paused\":false} (the fields after dir are optional and mean what the flags "
       "of --restore mean); the reply comes once the VM is restored, and the socket then "
       "takes the usual control requests");
  // clang-format on
  return d;
}

Error usage_error(const std::string& message) { return make_error("usage", message); }

// --restore: only the flags that make sense for a snapshot's VM.
Result<ParsedFlags> parse_restore_flags(const po::variables_map& vm, ParsedFlags parsed) {
  VmmConfig& c = parsed.config;
  c.restore_dir = vm["restore"].as<std::string>();
  if (c.restore_dir.empty()) return usage_error("--restore needs a directory");
  for (const char* flag : {"kernel", "initrd", "root", "cmdline", "vsock-cid"}) {
    if (vm.count(flag)) {
      return usage_error(std::string("--") + flag +
                         " cannot be combined with --restore (the snapshot fixes it)");
    }
  }
  for (const char* flag : {"mem-mib", "vcpus"}) {
    if (!vm[flag].defaulted()) {
      return usage_error(std::string("--") + flag +
                         " cannot be combined with --restore (the snapshot fixes it)");
    }
  }
  if (vm.count("vsock-uds")) {
    c.vsock_uds = vm["vsock-uds"].as<std::string>();
    if (c.vsock_uds.empty()) return usage_error("--vsock-uds needs a path");
  }
  if (vm.count("disk")) {
    for (const std::string& spec : vm["disk"].as<std::vector<std::string>>()) {
      EMBER_TRY(DiskConfig disk, parse_disk_spec(spec));
      (void)disk;  // checked here; the snapshot's read-only flag applies without a suffix
      c.restore_disks.push_back(spec);
    }
  }
  c.console = vm["console"].as<bool>();
  return parsed;
}

// --standby: the snapshot and its overrides come later, in the restore request.
Result<ParsedFlags> parse_standby_flags(const po::variables_map& vm, ParsedFlags parsed) {
  parsed.config.standby = true;
  if (parsed.config.api_sock.empty()) {
    return usage_error("--standby needs --api-sock: the restore request arrives there");
  }
  for (const char* flag : {"kernel", "initrd", "root", "cmdline", "vsock-cid", "vsock-uds",
                           "disk", "restore"}) {
    if (vm.count(flag)) {
      return usage_error(std::string("--") + flag +
                         " cannot be combined with --standby (the restore request gives the "
                         "snapshot and its overrides)");
    }
  }
  for (const char* flag : {"mem-mib", "vcpus", "start-paused"}) {
    if (!vm[flag].defaulted()) {
      return usage_error(std::string("--") + flag +
                         " cannot be combined with --standby (the restore request gives the "
                         "snapshot and its overrides)");
    }
  }
  parsed.config.console = vm["console"].as<bool>();
  return parsed;
}

}  // namespace

std::string usage_text() {
  std::ostringstream out;
  out << "Usage: ember-vmm --kernel vmlinux [options]\n"
      << "       ember-vmm --restore DIR [--vsock-uds PATH] [--disk PATH ...] [--api-sock PATH]\n"
      << "                 [--start-paused]\n"
      << "       ember-vmm --standby --api-sock PATH\n\n"
      << describe_flags() << "\n"
      << "Exit codes: 0 guest shut down (reboot), 1 VMM error, 2 usage error, 3 guest crashed\n"
      << "(kernel panic or triple fault).\n";
  return out.str();
}

Result<DiskConfig> parse_disk_spec(const std::string& spec) {
  DiskConfig disk{spec, false};
  auto ends_with = [&spec](const char* suffix) {
    const std::string s(suffix);
    return spec.size() >= s.size() && spec.compare(spec.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with(":ro")) {
    disk = {spec.substr(0, spec.size() - 3), true};
  } else if (ends_with(":rw")) {
    disk = {spec.substr(0, spec.size() - 3), false};
  }
  if (disk.path.empty()) return usage_error("--disk needs a path, got '" + spec + "'");
  return disk;
}

Result<ParsedFlags> parse_flags(int argc, const char* const argv[]) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(describe_flags()).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  ParsedFlags parsed;
  if (vm.count("help")) {
    parsed.help = true;
    return parsed;
  }
  VmmConfig& c = parsed.config;
  if (vm.count("api-sock")) {
    c.api_sock = vm["api-sock"].as<std::string>();
    if (c.api_sock.empty()) return usage_error("--api-sock needs a path");
  }
  c.start_paused = vm["start-paused"].as<bool>();
  const auto level = parse_log_level(vm["log-level"].as<std::string>());
  if (!level) return usage_error("--log-level must be error, warn, info or debug");
  c.log_level = *level;
  if (vm["standby"].as<bool>()) return parse_standby_flags(vm, parsed);
  if (vm.count("restore")) return parse_restore_flags(vm, parsed);
  if (c.start_paused) return usage_error("--start-paused needs --restore");
  if (!vm.count("kernel")) return usage_error("--kernel is required");
  c.kernel = vm["kernel"].as<std::string>();
  if (vm.count("initrd")) c.initrd = vm["initrd"].as<std::string>();
  if (vm.count("root")) {
    const std::string root = vm["root"].as<std::string>();
    if (root.empty()) return usage_error("--root needs a path");
    c.root = DiskConfig{root, true};
  }
  if (vm.count("disk")) {
    for (const std::string& spec : vm["disk"].as<std::vector<std::string>>()) {
      EMBER_TRY(DiskConfig disk, parse_disk_spec(spec));
      c.disks.push_back(disk);
    }
  }
  c.mem_mib = vm["mem-mib"].as<uint64_t>();
  if (c.mem_mib < kMinMemMib || c.mem_mib > kMaxMemMib) {
    return usage_error("--mem-mib must be " + std::to_string(kMinMemMib) + ".." +
                       std::to_string(kMaxMemMib));
  }
  c.vcpus = vm["vcpus"].as<uint32_t>();
  if (c.vcpus < 1 || c.vcpus > layout::kMaxVcpus) {
    return usage_error("--vcpus must be 1.." + std::to_string(layout::kMaxVcpus));
  }
  if (vm.count("vsock-uds")) c.vsock_uds = vm["vsock-uds"].as<std::string>();
  if (vm.count("vsock-cid")) {
    if (c.vsock_uds.empty()) return usage_error("--vsock-cid needs --vsock-uds");
    c.vsock_cid = vm["vsock-cid"].as<uint32_t>();
    if (c.vsock_cid < 3 || c.vsock_cid == UINT32_MAX) {
      return usage_error("--vsock-cid must be at least 3 (0-2 are reserved) and below 2^32-1");
    }
  }
  const size_t devices = (c.root ? 1 : 0) + c.disks.size() + (c.vsock_uds.empty() ? 0 : 1);
  if (devices > layout::kMaxVirtioDevices) {
    return usage_error("too many devices: at most " + std::to_string(layout::kMaxVirtioDevices) +
                       " disks and vsock together");
  }
  if (vm.count("cmdline")) c.cmdline_extra = vm["cmdline"].as<std::string>();
  c.console = vm["console"].as<bool>();
  return parsed;
}

}  // namespace ember::vmm
