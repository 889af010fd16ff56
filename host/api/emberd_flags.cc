// emberd's flags with Boost.Program_options.
#include "host/api/emberd_flags.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <boost/program_options.hpp>

#include <filesystem>
#include <regex>
#include <sstream>

namespace po = boost::program_options;

namespace ember::host {
namespace {

// Half the host's RAM, the default cap on guest memory.
uint64_t half_of_ram_mib() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 1024;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) / 2 / (1024 * 1024);
}

po::options_description describe_flags() {
  po::options_description d(
      "emberd: runs functions in KVM microVMs behind Lambda's REST API (runs as root, in the "
      "foreground, logs to stderr; SIGTERM or SIGINT drains and exits 0)\n\nOptions");
  // clang-format off
  d.add_options()
      ("help,h", "print this help and exit")
      ("socket", po::value<std::string>()->default_value("/run/ember/ember.sock"),
       "Unix socket to serve the API on (created mode 0660, its directory if missing)")
      ("listen", po::value<std::string>(),
       "HOST:PORT: also serve the API over TCP, e.g. 127.0.0.1:9000 for AWS SDKs and the AWS "
       "CLI; every request must be signed (SigV4) with a key from --credentials")
      ("credentials", po::value<std::string>(),
       "FILE in the AWS CLI's credentials format ([profile] sections with aws_access_key_id "
       "and aws_secret_access_key): the keys TCP requests may be signed with (all profiles)")
      ("insecure-no-auth", po::bool_switch(),
       "serve --listen without authentication (anyone who can connect may deploy and run "
       "code); refused unless --listen is a loopback address")
      ("socket-group", po::value<std::string>()->default_value("ember"),
       "group of the Unix socket (mode 0660: its members may use the API); when the group "
       "does not exist the socket keeps root's group")
      ("state-dir", po::value<std::string>()->default_value("/var/lib/ember"),
       "where functions (functions.db), code (code/) and logs (logs/) are kept")
      ("region", po::value<std::string>()->default_value("us-east-1"),
       "the region in function ARNs")
      ("max-vm-memory-mib", po::value<uint64_t>(),
       "total guest memory for microVMs (default: half of the host's RAM)")
      ("vmm", po::value<std::string>()->default_value("ember-vmm"), "the ember-vmm binary")
      ("standby-vmms", po::value<uint32_t>()->default_value(2),
       "ember-vmm processes kept started and waiting (--standby) so that a restore skips "
       "their exec and start-up (0..64; 0: spawn one per restore)")
      ("kernel", po::value<std::string>()->default_value(""), "guest kernel (vmlinux)")
      ("rootfs", po::value<std::string>()->default_value(""), "guest root image (erofs)")
      ("initramfs", po::value<std::string>()->default_value(""),
       "initramfs with ember-agent as /init")
      ("init-timeout-s", po::value<uint32_t>()->default_value(30),
       "a new environment's init phase (the runtime loading the handler) must end within "
       "this (1..900; Lambda: 10); the function's timeout covers only its invocations")
      ("drain-timeout-s", po::value<uint32_t>()->default_value(30),
       "on SIGTERM/SIGINT, how long in-flight requests may take to finish (0..3600)")
      ("max-connections", po::value<size_t>()->default_value(4096),
       "HTTP connections open at once (1..65536); a client over the bound gets a 503")
      ("request-timeout-s", po::value<uint32_t>()->default_value(60),
       "a request's head and body must arrive within this of its first byte, and its "
       "response be taken within it (1..3600)")
      ("handler-threads", po::value<size_t>()->default_value(64),
       "requests handled at once (1..4096), a thread each; more wait in a queue (an "
       "invocation holds one only for its cold start, not while its handler runs)")
      ("async-retry-delay-seconds", po::value<uint32_t>()->default_value(60),
       "the wait before an Event invocation's first retry after a function error; the second "
       "waits twice as long (1..3600; Lambda: 60)")
      ("async-workers", po::value<uint32_t>()->default_value(4),
       "Event invocations run at once (1..256), each still waiting for VM capacity")
      ("redis", po::value<std::vector<std::string>>()->composing(),
       "[NAME=]URL, repeatable: a Redis server event source mappings read, named in their "
       "ARNs arn:ember:redis:::NAME/stream/KEY and .../queue/KEY (NAME default: \"default\"), "
       "e.g. --redis default=redis://127.0.0.1:6379")
      ("queue-visibility-timeout-s", po::value<uint32_t>()->default_value(0),
       "queue sources: how long a received record stays invisible before it is received again "
       "(0..43200; 0: the function's timeout plus 10 s)")
      ("network", po::value<std::string>()->default_value("on"),
       "on: every VM gets virtio-net in a network namespace of its own, NATed by this host "
       "(needs tun, veth and nf_tables); off: guests have loopback only")
      ("dns", po::value<std::string>(),
       "IPv4 address of the resolver guests use (default: the first non-loopback nameserver "
       "in /etc/resolv.conf)")
      ("egress-default", po::value<std::string>()->default_value("internet"),
       "egress policy of a function without an Egress of its own: none, internet, or an "
       "allowlist CIDR[:PORT[-PORT]],...")
      ("vm-connections", po::value<uint32_t>()->default_value(4096),
       "connections one VM may have open through the host's NAT at once (16..1048576)")
      ("vm-bandwidth-mbit", po::value<uint32_t>()->default_value(1000),
       "bandwidth of one VM's network, in Mbit/s each way (1..100000)")
      ("jail", po::value<std::string>(),
       "on: every ember-vmm runs jailed by ember-jailer (its own mount, PID, IPC, UTS and "
       "network namespaces, pivot_root into <state-dir>/jail/N/root, a uid of its own, no "
       "capabilities, rlimits); off: VMMs run as emberd does (default: on when run as root)")
      ("jail-uids", po::value<std::string>()->default_value("900000-965535"),
       "FIRST-LAST: the uids (gid = uid) jailed VMMs run as, one per live VM; no other user "
       "may use them")
      ("jailer", po::value<std::string>(),
       "the ember-jailer binary (default: ember-jailer beside emberd)")
      ("test-forbidden-syscall-in", po::value<std::string>(),
       "for tests: every VMM booted for this function makes a call its seccomp filter forbids "
       "on a vCPU thread (ember-vmm --test-forbidden-syscall-on-vcpu) and dies with SIGSYS");
  // clang-format on
  return d;
}

Error usage_error(const std::string& message) { return make_error("usage", message); }

}  // namespace

bool is_loopback_listen(const std::string& host_port) {
  std::string host = host_port.substr(0, host_port.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

std::string emberd_usage() {
  std::ostringstream out;
  out << "Usage: emberd [--socket PATH] [--listen HOST:PORT --credentials FILE] "
         "[--state-dir DIR] [options]\n\n"
      << describe_flags() << "\n"
      << "Exit codes: 0 stopped by SIGTERM/SIGINT, 1 could not start, 2 usage error.\n";
  return out.str();
}

Result<EmberdFlags> parse_emberd_flags(int argc, const char* const argv[]) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(describe_flags()).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  EmberdFlags flags;
  if (vm.count("help")) {
    flags.help = true;
    return flags;
  }
  EmberdConfig& c = flags.config;
  c.socket_path = vm["socket"].as<std::string>();
  if (c.socket_path.empty()) return usage_error("--socket needs a path");
  c.state_dir = vm["state-dir"].as<std::string>();
  if (c.state_dir.empty()) return usage_error("--state-dir needs a directory");
  if (vm.count("listen")) {
    c.listen = vm["listen"].as<std::string>();
    if (c.listen.find(':') == std::string::npos) {
      return usage_error("--listen needs HOST:PORT, e.g. 127.0.0.1:9000");
    }
  }
  if (vm.count("credentials")) {
    c.credentials_file = vm["credentials"].as<std::string>();
    if (c.credentials_file.empty()) return usage_error("--credentials needs a file");
  }
  c.insecure_no_auth = vm["insecure-no-auth"].as<bool>();
  if (c.insecure_no_auth && !c.credentials_file.empty()) {
    return usage_error("give --credentials FILE or --insecure-no-auth, not both");
  }
  if (!c.listen.empty() && c.credentials_file.empty() && !c.insecure_no_auth) {
    return usage_error("--listen needs --credentials FILE (the access keys TCP requests are "
                       "signed with, in the AWS CLI's credentials format), or "
                       "--insecure-no-auth to serve a loopback address without authentication");
  }
  if (c.insecure_no_auth && !c.listen.empty() && !is_loopback_listen(c.listen)) {
    return usage_error("--insecure-no-auth is refused with --listen " + c.listen +
                       ": that address is not loopback, so anyone who reaches it could deploy "
                       "and run code; listen on 127.0.0.1:PORT or give --credentials FILE");
  }
  c.socket_group = vm["socket-group"].as<std::string>();
  if (c.socket_group.empty()) return usage_error("--socket-group needs a group name");
  c.region = vm["region"].as<std::string>();
  static const std::regex region_pattern("[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]");
  if (!std::regex_match(c.region, region_pattern)) {
    return usage_error("--region must look like us-east-1, got '" + c.region + "'");
  }
  const uint32_t drain = vm["drain-timeout-s"].as<uint32_t>();
  if (drain > 3600) return usage_error("--drain-timeout-s must be 0..3600");
  c.drain_timeout = std::chrono::seconds(drain);
  const uint32_t request_timeout = vm["request-timeout-s"].as<uint32_t>();
  if (request_timeout < 1 || request_timeout > 3600) {
    return usage_error("--request-timeout-s must be 1..3600");
  }
  c.request_timeout = std::chrono::seconds(request_timeout);
  c.max_connections = vm["max-connections"].as<size_t>();
  if (c.max_connections < 1 || c.max_connections > 65536) {
    return usage_error("--max-connections must be 1..65536");
  }
  c.handler_threads = vm["handler-threads"].as<size_t>();
  if (c.handler_threads < 1 || c.handler_threads > 4096) {
    return usage_error("--handler-threads must be 1..4096");
  }

  const uint32_t retry_delay = vm["async-retry-delay-seconds"].as<uint32_t>();
  if (retry_delay < 1 || retry_delay > 3600) {
    return usage_error("--async-retry-delay-seconds must be 1..3600");
  }
  c.async_retry_delay = std::chrono::seconds(retry_delay);
  c.async_workers = vm["async-workers"].as<uint32_t>();
  if (c.async_workers < 1 || c.async_workers > 256) {
    return usage_error("--async-workers must be 1..256");
  }

  if (vm.count("redis")) {
    auto servers = parse_redis_flags(vm["redis"].as<std::vector<std::string>>());
    if (!servers.ok()) return usage_error(servers.error().message());
    c.redis_servers = std::move(servers).value();
  }
  const uint32_t visibility = vm["queue-visibility-timeout-s"].as<uint32_t>();
  if (visibility > 43200) return usage_error("--queue-visibility-timeout-s must be 0..43200");
  c.queue_visibility_timeout = std::chrono::seconds(visibility);

  const std::string network = vm["network"].as<std::string>();
  if (network != "on" && network != "off") return usage_error("--network must be on or off");
  c.network = network == "on";
  if (vm.count("dns")) {
    c.dns = vm["dns"].as<std::string>();
    in_addr parsed{};
    if (::inet_pton(AF_INET, c.dns.c_str(), &parsed) != 1) {
      return usage_error("--dns needs an IPv4 address, e.g. --dns 192.0.2.53, got '" + c.dns +
                         "'");
    }
  }
  c.vm_max_connections = vm["vm-connections"].as<uint32_t>();
  if (c.vm_max_connections < 16 || c.vm_max_connections > 1048576) {
    return usage_error("--vm-connections must be 16..1048576");
  }
  c.vm_bandwidth_mbit = vm["vm-bandwidth-mbit"].as<uint32_t>();
  if (c.vm_bandwidth_mbit < 1 || c.vm_bandwidth_mbit > 100000) {
    return usage_error("--vm-bandwidth-mbit must be 1..100000");
  }

  InvokerConfig& invoker = c.invoker;
  jail::JailOptions& jail = invoker.jail;
  if (vm.count("jail")) {
    const std::string on = vm["jail"].as<std::string>();
    if (on != "on" && on != "off") return usage_error("--jail must be on or off");
    jail.enabled = on == "on";
  } else {
    jail.enabled = ::geteuid() == 0;  // the jailer needs root; without it VMMs run as emberd does
  }
  auto uids = jail::parse_uid_range(vm["jail-uids"].as<std::string>());
  if (!uids.ok()) return usage_error("--jail-uids " + uids.error().context);
  jail.uids = *uids;
  if (vm.count("test-forbidden-syscall-in")) {
    invoker.test_forbidden_syscall_in = vm["test-forbidden-syscall-in"].as<std::string>();
  }
  if (vm.count("jailer")) {
    jail.jailer_path = vm["jailer"].as<std::string>();
    if (jail.jailer_path.empty()) return usage_error("--jailer needs a path");
  }
  auto egress = net::parse_egress_policy(vm["egress-default"].as<std::string>());
  if (!egress.ok()) return usage_error("--egress-default: " + egress.error().message());
  invoker.egress_default = std::move(egress).value();
  invoker.state_dir = c.state_dir;
  invoker.region = c.region;
  invoker.vmm_path = vm["vmm"].as<std::string>();
  // Relative guest files are taken from where emberd started: VMMs and the jailer get
  // absolute paths.
  const auto absolute = [](const std::string& path) {
    return path.empty() ? path : std::filesystem::absolute(path).lexically_normal().string();
  };
  invoker.kernel = absolute(vm["kernel"].as<std::string>());
  invoker.rootfs = absolute(vm["rootfs"].as<std::string>());
  invoker.initramfs = absolute(vm["initramfs"].as<std::string>());
  invoker.max_vm_memory_mib =
      vm.count("max-vm-memory-mib") ? vm["max-vm-memory-mib"].as<uint64_t>() : half_of_ram_mib();
  if (invoker.max_vm_memory_mib < 128) return usage_error("--max-vm-memory-mib must be >= 128");
  const uint32_t init_timeout = vm["init-timeout-s"].as<uint32_t>();
  if (init_timeout < 1 || init_timeout > 900) return usage_error("--init-timeout-s must be 1..900");
  invoker.init_timeout = std::chrono::seconds(init_timeout);
  invoker.standby_vmms = vm["standby-vmms"].as<uint32_t>();
  if (invoker.standby_vmms > 64) return usage_error("--standby-vmms must be 0..64");
  return flags;
}

}  // namespace ember::host
