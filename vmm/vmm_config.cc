// VmmConfig: flag parsing with Boost.Program_options.
#include "vmm/vmm_config.h"

#include <fcntl.h>

#include <boost/program_options.hpp>
#include <charconv>
#include <sstream>

#include "vmm/boot/layout.h"

namespace po = boost::program_options;

// The --seccomp default: "kill", unless a build asks for "log" to find calls missing from
// the filters (cmake -DEMBER_VMM_SECCOMP_DEFAULT=log; vmm/CMakeLists.txt).
#ifndef EMBER_VMM_SECCOMP_DEFAULT
#define EMBER_VMM_SECCOMP_DEFAULT "kill"
#endif

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
      ("net-fd", po::value<int>(),
       "N: an inherited, open tap file descriptor (opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR) "
       "backing a virtio-net device, the guest's eth0, attached after vsock; ember-vmm makes it "
       "non-blocking and sets its vnet header size and offloads")
      ("net-mac", po::value<std::string>(),
       "XX:XX:XX:XX:XX:XX: the MAC address of the --net-fd device (default 06:00:ac:10:00:02)")
      ("netns", po::value<std::string>(),
       "PATH: a network namespace (such as /run/netns/NAME) ember-vmm joins first thing, "
       "before it opens KVM")
      ("cmdline", po::value<std::string>(), "extra kernel command line arguments, appended last")
      ("console", po::bool_switch(),
       "copy the guest serial console to stderr (without it the kernel runs with loglevel=1; "
       "the last 16 KiB of console output are kept either way to detect a kernel panic)")
      ("log-level", po::value<std::string>()->default_value("warn"),
       "ember-vmm's own messages on stderr: error|warn|info|debug")
      ("seccomp", po::value<std::string>()->default_value(EMBER_VMM_SECCOMP_DEFAULT),
       "kill|log|off: every thread runs under a seccomp filter listing the system calls its "
       "role makes (start-up, vCPU, event loop); a call outside the list kills the whole VMM "
       "with SIGSYS (kill), or goes through and is logged by the kernel as an audit record of "
       "type 1326 (log); off installs no filter")
      ("test-forbidden-syscall-on-vcpu", po::bool_switch(),
       "for tests only: vCPU 0 makes a system call its seccomp filter forbids (it opens "
       "/proc/self/status) right after loading the filter, so under --seccomp kill the VMM "
       "dies with SIGSYS before the guest runs")
      ("api-sock", po::value<std::string>(),
       "Unix socket for control requests, one JSON object per line: {\"op\":\"pause\"}, "
       "{\"op\":\"resume\"}, {\"op\":\"snapshot\",\"dir\":\"DIR\"} (paused VMs only; "
       "writes DIR/state.bin and DIR/memory.bin), {\"op\":\"stats\"}")
      ("restore", po::value<std::string>(),
       "DIR: restore the snapshot in DIR instead of booting (no --kernel); the snapshot fixes "
       "memory, vCPUs, disks, vsock CID and MAC. With --restore, --vsock-uds gives the vsock a "
       "new host socket, --disk PATH[:ro|:rw] (repeated, same count as the snapshot's disks, "
       "root first) replaces the disks in order, --net-fd is required exactly when the snapshot "
       "has a network device, and --api-sock, --netns and --start-paused apply")
      ("start-paused", po::bool_switch(),
       "with --restore: keep the vCPUs paused until {\"op\":\"resume\"} on --api-sock")
      ("standby", po::bool_switch(),
       "with --api-sock only: start up and create the KVM VM, then wait for one request "
       "{\"op\":\"restore\",\"dir\":\"DIR\",\"vsock_uds\":\"PATH\",\"disks\":[...],"
       "\"start_paused\":false} (the fields after dir are optional and mean what the flags "
       "of --restore mean); the reply comes once the VM is restored, and the socket then "
       "takes the usual control requests. --net-fd and --netns are given here, at start-up")
      ("standby-timeout", po::value<int64_t>()->default_value(0),
       "SECONDS: with --standby, exit (status 1) when no restore request came within this "
       "long; 0 waits for as long as the VMM's parent lives")
      ("lifeline-fd", po::value<int>(),
       "N: an inherited pipe's read end whose write end only the parent (emberd) holds and "
       "never writes; when the parent dies the pipe reports hang-up and the VMM stops its "
       "guest and exits (status 1), in every mode and while waiting as --standby");
  // clang-format on
  return d;
}

Error usage_error(const std::string& message) { return make_error("usage", message); }

// An inherited descriptor flag (--net-fd, --lifeline-fd): 3 or above and open; -1 when
// absent. what_to_pass says what the parent should hand over.
Result<int> parse_inherited_fd(const po::variables_map& vm, const char* name,
                               const std::string& what_to_pass) {
  if (!vm.count(name)) return -1;
  const int fd = vm[name].as<int>();
  const std::string flag = "--" + std::string(name) + " " + std::to_string(fd);
  if (fd < 3) {
    return usage_error(flag + ": it must be an inherited descriptor, 3 or above (0-2 are "
                              "stdin, stdout and stderr)");
  }
  if (::fcntl(fd, F_GETFD) < 0) {
    return usage_error(flag + ": file descriptor " + std::to_string(fd) + " is not open; " +
                       what_to_pass + " open and without O_CLOEXEC");
  }
  return fd;
}

// --net-fd and --netns, which every mode takes.
Status parse_network_flags(const po::variables_map& vm, VmmConfig& c) {
  if (vm.count("netns")) {
    c.netns = vm["netns"].as<std::string>();
    if (c.netns.empty()) return usage_error("--netns needs a path");
  }
  EMBER_TRY(c.net_fd, parse_inherited_fd(vm, "net-fd", "the parent must pass the tap"));
  return {};
}

// --restore: only the flags that make sense for a snapshot's VM.
Result<ParsedFlags> parse_restore_flags(const po::variables_map& vm, ParsedFlags parsed) {
  VmmConfig& c = parsed.config;
  c.restore_dir = vm["restore"].as<std::string>();
  if (c.restore_dir.empty()) return usage_error("--restore needs a directory");
  for (const char* flag : {"kernel", "initrd", "root", "cmdline", "vsock-cid", "net-mac"}) {
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
  if (vm.count("net-mac")) {
    return usage_error("--net-mac cannot be combined with --standby (the snapshot fixes it)");
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
  const int64_t timeout = vm["standby-timeout"].as<int64_t>();
  if (timeout < 0) return usage_error("--standby-timeout must be 0 or more seconds");
  parsed.config.standby_timeout = std::chrono::seconds(timeout);
  return parsed;
}

}  // namespace

std::string usage_text() {
  std::ostringstream out;
  out << "Usage: ember-vmm --kernel vmlinux [options]\n"
      << "       ember-vmm --restore DIR [--vsock-uds PATH] [--disk PATH ...] [--api-sock PATH]\n"
      << "                 [--net-fd N] [--netns PATH] [--start-paused]\n"
      << "       ember-vmm --standby --api-sock PATH [--standby-timeout SECONDS] [--net-fd N]\n"
      << "                 [--netns PATH]\n"
      << "every mode also takes [--lifeline-fd N] [--seccomp kill|log|off] [--log-level L]\n\n"
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

Result<std::array<uint8_t, 6>> parse_mac(const std::string& text) {
  const Error bad = usage_error("--net-mac must look like 06:00:ac:10:00:02, got '" + text + "'");
  std::array<uint8_t, 6> mac{};
  if (text.size() != 17) return bad;
  for (size_t i = 0; i < mac.size(); ++i) {
    const char* at = text.data() + 3 * i;
    if (i > 0 && at[-1] != ':') return bad;
    const auto [end, ec] = std::from_chars(at, at + 2, mac[i], 16);
    if (ec != std::errc() || end != at + 2) return bad;
  }
  if ((mac[0] & 1) != 0) {
    return usage_error("--net-mac " + text +
                       " is a multicast address; the first byte must be even");
  }
  return mac;
}

std::string format_mac(const std::array<uint8_t, 6>& mac) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : mac) {
    if (!out.empty()) out += ':';
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
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
  const std::string seccomp = vm["seccomp"].as<std::string>();
  const auto mode = seccomp::parse_mode(seccomp);
  if (!mode) return usage_error("--seccomp must be kill, log or off, got '" + seccomp + "'");
  c.seccomp = *mode;
  c.test_forbidden_syscall_on_vcpu = vm["test-forbidden-syscall-on-vcpu"].as<bool>();
  EMBER_CHECK(parse_network_flags(vm, c));
  EMBER_TRY(c.lifeline_fd, parse_inherited_fd(vm, "lifeline-fd",
                                              "the parent must pass a pipe's read end"));
  if (vm["standby"].as<bool>()) return parse_standby_flags(vm, parsed);
  if (!vm["standby-timeout"].defaulted()) return usage_error("--standby-timeout needs --standby");
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
  if (vm.count("net-mac")) {
    if (c.net_fd < 0) return usage_error("--net-mac needs --net-fd");
    EMBER_TRY(c.net_mac, parse_mac(vm["net-mac"].as<std::string>()));
  }
  const size_t devices = (c.root ? 1 : 0) + c.disks.size() + (c.vsock_uds.empty() ? 0 : 1) +
                         (c.net_fd >= 0 ? 1 : 0);
  if (devices > layout::kMaxVirtioDevices) {
    return usage_error("too many devices: at most " + std::to_string(layout::kMaxVirtioDevices) +
                       " disks, vsock and network together");
  }
  if (vm.count("cmdline")) c.cmdline_extra = vm["cmdline"].as<std::string>();
  c.console = vm["console"].as<bool>();
  return parsed;
}

}  // namespace ember::vmm
