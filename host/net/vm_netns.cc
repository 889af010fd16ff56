// VmNetns: built with `ip` for links and addresses, and a thread that setns()es into the
// netns for what must happen inside it (the tap, sysctls, the nft table).
#include "host/net/vm_netns.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <thread>
#include <utility>

#include "host/net/addressing.h"
#include "host/net/host_network.h"
#include "host/net/ip_command.h"
#include "host/net/nft.h"
#include "host/net/nft_rules.h"
#include "host/net/sysctl.h"

namespace ember::host::net {
namespace {

Result<UniqueFd> open_tap() {
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd) return errno_error("open", "/dev/net/tun");
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", kTapName);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return errno_error("TUNSETIFF", kTapName);
  return fd;
}

// Runs on a thread of its own that has joined the VM's netns: a tap belongs to the netns of
// whoever opened /dev/net/tun, and /proc/sys/net and nft's netlink socket follow the
// calling thread's netns.
Result<UniqueFd> set_up_inside(int netns_fd, uint32_t resolver) {
  if (::setns(netns_fd, CLONE_NEWNET) != 0) return errno_error("setns", "VM netns");
  EMBER_TRY(UniqueFd tap, open_tap());
  EMBER_TRY(Nft nft, Nft::create());
  EMBER_CHECK(nft.run(netns_ruleset(resolver)));
  EMBER_CHECK(write_sysctl("net/ipv4/ip_forward", "1"));
  // Mid-stream TCP (connections from before a restore) is then invalid and gets a reset.
  EMBER_CHECK(write_sysctl("net/netfilter/nf_conntrack_tcp_loose", "0"));
  // Best effort: a kernel may be built without IPv6. The guest's network is IPv4 only.
  (void)write_sysctl("net/ipv6/conf/all/disable_ipv6", "1");
  (void)write_sysctl("net/ipv6/conf/default/disable_ipv6", "1");
  return tap;
}

}  // namespace

VmNetns::VmNetns(HostNetwork* owner, uint32_t index)
    : owner_(owner),
      index_(index),
      netns_path_(net::netns_path(index)),
      host_ifname_(net::host_ifname(index)) {}

Result<VmNetns> VmNetns::create(HostNetwork* owner, uint32_t index) {
  VmNetns vm(owner, index);
  const std::string& ip = owner->ip_path();
  const std::string name = netns_name(index);
  EMBER_CHECK(run_ip(ip, {"netns", "add", name}));
  vm.netns_made_ = true;
  const std::string& emb = vm.host_ifname_;
  const std::string veth = kNetnsVethName, tap = kTapName;
  EMBER_CHECK(
      run_ip(ip, {"-batch", "-"},
             ip_batch({
                 "link add " + emb + " type veth peer name " + veth + " netns " + name,
                 "link set " + emb + " addrgenmode none",
                 "addr add " + format_cidr(host_veth_ip(index), kVethPrefixLen) + " dev " + emb,
                 "link set " + emb + " up",
             })));
  vm.veth_made_ = true;

  UniqueFd netns_fd(::open(vm.netns_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns_fd) return errno_error("open", vm.netns_path_);
  Result<UniqueFd> tap_fd = make_error("set up VM netns", "not run");
  std::thread inside([&] { tap_fd = set_up_inside(netns_fd.get(), owner->config().resolver); });
  inside.join();
  if (!tap_fd.ok()) {
    Error e = tap_fd.error();
    e.op = "inside " + name + ": " + e.op;
    return e;
  }
  vm.tap_ = std::move(tap_fd).value();

  EMBER_CHECK(
      run_ip(ip, {"-n", name, "-batch", "-"},
             ip_batch({
                 "link set lo up",
                 "addr add " + format_cidr(netns_veth_ip(index), kVethPrefixLen) + " dev " + veth,
                 "link set " + veth + " up",
                 "route add default via " + format_ipv4(host_veth_ip(index)),
                 "link set " + tap + " address " + kTapMac,
                 "addr add " + format_cidr(kGatewayIp, kGuestPrefixLen) + " dev " + tap,
                 "link set " + tap + " up",
             })));
  return vm;
}

VmNetns::VmNetns(VmNetns&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      index_(other.index_),
      netns_path_(std::move(other.netns_path_)),
      host_ifname_(std::move(other.host_ifname_)),
      tap_(std::move(other.tap_)),
      netns_made_(std::exchange(other.netns_made_, false)),
      veth_made_(std::exchange(other.veth_made_, false)) {}

VmNetns& VmNetns::operator=(VmNetns&& other) noexcept {
  if (this != &other) {
    tear_down();
    owner_ = std::exchange(other.owner_, nullptr);
    index_ = other.index_;
    netns_path_ = std::move(other.netns_path_);
    host_ifname_ = std::move(other.host_ifname_);
    tap_ = std::move(other.tap_);
    netns_made_ = std::exchange(other.netns_made_, false);
    veth_made_ = std::exchange(other.veth_made_, false);
  }
  return *this;
}

VmNetns::~VmNetns() { tear_down(); }

void VmNetns::tear_down() {
  if (owner_ == nullptr) return;
  owner_->unassign(index_);
  tap_.reset();
  std::string batch;
  // Deleting the host end takes the netns end with it even while a VMM keeps the netns.
  if (veth_made_) batch += "link delete " + host_ifname_ + "\n";
  if (netns_made_) batch += "netns delete " + netns_name(index_) + "\n";
  if (!batch.empty()) {
    Status s = run_ip(owner_->ip_path(), {"-force", "-batch", "-"}, batch);
    if (!s.ok()) {
      std::fprintf(stderr, "emberd: warning: removing VM network %u: %s\n", index_,
                   s.error().message().c_str());
    }
  }
  owner_->free_index(index_);
  owner_ = nullptr;
}

}  // namespace ember::host::net
