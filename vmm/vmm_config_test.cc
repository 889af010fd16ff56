// Tests for flag parsing, the virtio slot plan and the command line built from a config.
#include "vmm/vmm_config.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/unique_fd.h"

#include "vmm/boot/layout.h"
#include "vmm/vmm.h"

namespace ember::vmm {
namespace {

Result<ParsedFlags> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "ember-vmm");
  return parse_flags(static_cast<int>(args.size()), args.data());
}

TEST(Flags, DefaultsWithOnlyKernel) {
  auto p = parse({"--kernel", "/k"});
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_FALSE(p->help);
  const VmmConfig& c = p->config;
  EXPECT_EQ(c.kernel, "/k");
  EXPECT_EQ(c.mem_mib, 128u);
  EXPECT_EQ(c.vcpus, 1u);
  EXPECT_EQ(c.vsock_cid, 3u);
  EXPECT_TRUE(c.vsock_uds.empty());
  EXPECT_FALSE(c.root.has_value());
  EXPECT_FALSE(c.console);
  EXPECT_EQ(c.log_level, LogLevel::kWarn);
  EXPECT_EQ(c.seccomp, seccomp::Mode::kKill);
  EXPECT_FALSE(c.test_forbidden_syscall_on_vcpu);
}

TEST(Flags, SeccompModesInEveryMode) {
  const std::pair<const char*, seccomp::Mode> modes[] = {
      {"kill", seccomp::Mode::kKill}, {"log", seccomp::Mode::kLog}, {"off", seccomp::Mode::kOff}};
  for (const auto& [name, mode] : modes) {
    auto boot = parse({"--kernel", "/k", "--seccomp", name});
    ASSERT_TRUE(boot.ok()) << boot.error().message();
    EXPECT_EQ(boot->config.seccomp, mode);
    auto restore = parse({"--restore", "/snap", "--seccomp", name});
    ASSERT_TRUE(restore.ok()) << restore.error().message();
    EXPECT_EQ(restore->config.seccomp, mode);
    auto standby = parse({"--standby", "--api-sock", "/a", "--seccomp", name});
    ASSERT_TRUE(standby.ok()) << standby.error().message();
    EXPECT_EQ(standby->config.seccomp, mode);
  }
  auto hook = parse({"--kernel", "/k", "--test-forbidden-syscall-on-vcpu"});
  ASSERT_TRUE(hook.ok()) << hook.error().message();
  EXPECT_TRUE(hook->config.test_forbidden_syscall_on_vcpu);
  EXPECT_EQ(hook->config.seccomp, seccomp::Mode::kKill);
}

TEST(Flags, BadSeccompModeNamesTheAcceptedOnes) {
  for (const char* bad : {"strict", "", "KILL", "trap"}) {
    auto p = parse({"--kernel", "/k", "--seccomp", bad});
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.error().message().find("--seccomp must be kill, log or off"), std::string::npos)
        << p.error().message();
  }
  EXPECT_NE(usage_text().find("--seccomp"), std::string::npos);
  EXPECT_NE(usage_text().find("for tests only"), std::string::npos);
}

TEST(Flags, AllFlags) {
  auto p = parse({"--kernel",  "/k",          "--initrd",  "/i",          "--root",
                  "/r",        "--disk",      "/a",        "--disk",      "/b:ro",
                  "--disk",    "/c:rw",       "--mem-mib", "512",         "--vcpus",
                  "2",         "--vsock-cid", "7",         "--vsock-uds", "/v.sock",
                  "--cmdline", "quiet x=1",   "--console", "--log-level", "debug"});
  ASSERT_TRUE(p.ok()) << p.error().message();
  const VmmConfig& c = p->config;
  EXPECT_EQ(c.initrd, "/i");
  ASSERT_TRUE(c.root.has_value());
  EXPECT_EQ(c.root->path, "/r");
  EXPECT_TRUE(c.root->read_only);
  ASSERT_EQ(c.disks.size(), 3u);
  EXPECT_EQ(c.disks[0].path, "/a");
  EXPECT_FALSE(c.disks[0].read_only);
  EXPECT_EQ(c.disks[1].path, "/b");
  EXPECT_TRUE(c.disks[1].read_only);
  EXPECT_EQ(c.disks[2].path, "/c");
  EXPECT_FALSE(c.disks[2].read_only);
  EXPECT_EQ(c.mem_mib, 512u);
  EXPECT_EQ(c.vcpus, 2u);
  EXPECT_EQ(c.vsock_cid, 7u);
  EXPECT_EQ(c.vsock_uds, "/v.sock");
  EXPECT_EQ(c.cmdline_extra, "quiet x=1");
  EXPECT_TRUE(c.console);
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
}

TEST(Flags, Help) {
  auto p = parse({"--help"});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->help);
  const std::string help = usage_text();
  for (const char* flag : {"--kernel", "--initrd", "--root", "--disk", "--mem-mib", "--vcpus",
                           "--vsock-cid", "--vsock-uds", "--cmdline", "--console", "--log-level",
                           "--net-fd", "--net-mac", "--netns"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

TEST(Flags, UsageErrors) {
  EXPECT_FALSE(parse({}).ok());
  EXPECT_FALSE(parse({"--kernel"}).ok());
  EXPECT_FALSE(parse({"--kernel", "/k", "--bogus"}).ok());
  EXPECT_FALSE(parse({"--kernel", "/k", "--mem-mib", "8"}).ok());
  EXPECT_FALSE(parse({"--kernel", "/k", "--mem-mib", "lots"}).ok());
  EXPECT_FALSE(parse({"--kernel", "/k", "--vcpus", "0"}).ok());
  EXPECT_FALSE(parse({"--kernel", "/k", "--vcpus", "33"}).ok());
  EXPECT_FALSE(parse({"--kernel", "/k", "--vcpus", "-1"}).ok());
  EXPECT_FALSE(parse({"--kernel", "/k", "--vsock-cid", "5"}).ok()) << "cid without uds";
  EXPECT_FALSE(parse({"--kernel", "/k", "--vsock-uds", "/v", "--vsock-cid", "2"}).ok());
  EXPECT_FALSE(parse({"--kernel", "/k", "--log-level", "loud"}).ok());
  EXPECT_FALSE(parse({"--kernel", "/k", "--disk", ":ro"}).ok());
  EXPECT_FALSE(parse({"--kernel", "/k", "--kernel", "/k2"}).ok());
  auto p = parse({"--kernel", "/k", "--vcpus", "99"});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("--vcpus"), std::string::npos);
}

TEST(Flags, TooManyDevices) {
  std::vector<const char*> args = {"--kernel", "/k"};
  for (uint32_t i = 0; i <= layout::kMaxVirtioDevices; ++i) {
    args.push_back("--disk");
    args.push_back("/d");
  }
  EXPECT_FALSE(parse(args).ok());
}

TEST(DiskSpec, SuffixOnlyAtTheEnd) {
  auto d = parse_disk_spec("/dev/disk/by-id/a:b");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->path, "/dev/disk/by-id/a:b");
  EXPECT_FALSE(d->read_only);
}

TEST(VirtioPlan, FixedOrderRootDisksVsock) {
  VmmConfig c;
  c.root = DiskConfig{"/root.img", true};
  c.disks = {{"/a", false}, {"/b", true}};
  c.vsock_uds = "/v.sock";
  const auto plan = plan_virtio_slots(c);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].disk.path, "/root.img");
  EXPECT_EQ(plan[1].disk.path, "/a");
  EXPECT_EQ(plan[2].disk.path, "/b");
  EXPECT_EQ(plan[3].kind, VirtioSlotPlan::Kind::kVsock);
  for (uint32_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(plan[i].slot.base, 0xD000'0000u + i * 0x1000);
    EXPECT_EQ(plan[i].slot.size, 0x1000u);
    EXPECT_EQ(plan[i].slot.gsi, 5 + i);
  }
}

TEST(VirtioPlan, CmdlineAnnouncesEveryDeviceInOrder) {
  VmmConfig c;
  c.disks = {{"/a", false}};
  c.vsock_uds = "/v.sock";
  c.cmdline_extra = "foo=bar";
  auto line = kernel_cmdline_for(c);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->find("root="), std::string::npos) << "no root disk, no root=";
  const size_t d0 = line->find("virtio_mmio.device=4K@0xd0000000:5");
  const size_t d1 = line->find("virtio_mmio.device=4K@0xd0001000:6");
  ASSERT_NE(d0, std::string::npos);
  ASSERT_NE(d1, std::string::npos);
  EXPECT_LT(d0, d1);
  EXPECT_NE(line->find("loglevel=1"), std::string::npos);
  EXPECT_EQ(line->substr(line->size() - 7), "foo=bar");
}

TEST(Flags, StandbyNeedsOnlyAnApiSocket) {
  auto p = parse({"--standby", "--api-sock", "/a.sock", "--log-level", "debug"});
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_TRUE(p->config.standby);
  EXPECT_EQ(p->config.api_sock, "/a.sock");
  EXPECT_TRUE(p->config.restore_dir.empty());

  auto missing = parse({"--standby"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("--api-sock"), std::string::npos);
}

TEST(Flags, StandbyRefusesWhatTheRestoreRequestGives) {
  for (std::vector<const char*> extra : std::vector<std::vector<const char*>>{
           {"--kernel", "/k"},
           {"--restore", "/s"},
           {"--vsock-uds", "/v"},
           {"--disk", "/d"},
           {"--mem-mib", "256"},
           {"--start-paused"}}) {
    std::vector<const char*> args = {"--standby", "--api-sock", "/a.sock"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = parse(args);
    ASSERT_FALSE(p.ok()) << extra[0];
    EXPECT_NE(p.error().message().find(extra[0]), std::string::npos) << p.error().message();
  }
}

// An open descriptor (3 or above) for --net-fd; the flags only check that it is open.
struct OpenFd {
  OpenFd() : fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}
  std::string text() const { return std::to_string(fd.get()); }
  UniqueFd fd;
};

TEST(NetFlags, NetFdAddsTheDeviceLastWithTheDefaultMac) {
  OpenFd tap;
  const std::string fd = tap.text();
  auto p = parse({"--kernel", "/k", "--disk", "/a", "--vsock-uds", "/v", "--net-fd", fd.c_str(),
                  "--netns", "/run/netns/ember-vm-7"});
  ASSERT_TRUE(p.ok()) << p.error().message();
  const VmmConfig& c = p->config;
  EXPECT_EQ(c.net_fd, tap.fd.get());
  EXPECT_EQ(c.net_mac, kDefaultNetMac);
  EXPECT_EQ(format_mac(c.net_mac), "06:00:ac:10:00:02");
  EXPECT_EQ(c.netns, "/run/netns/ember-vm-7");
  const auto plan = plan_virtio_slots(c);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[1].kind, VirtioSlotPlan::Kind::kVsock);
  EXPECT_EQ(plan[2].kind, VirtioSlotPlan::Kind::kNet);
  EXPECT_EQ(plan[2].slot.base, 0xD000'2000u);
  EXPECT_EQ(plan[2].slot.gsi, 7u);
  auto line = kernel_cmdline_for(c);
  ASSERT_TRUE(line.ok());
  EXPECT_NE(line->find("virtio_mmio.device=4K@0xd0002000:7"), std::string::npos) << *line;
}

TEST(NetFlags, NoNetFdNoDevice) {
  auto p = parse({"--kernel", "/k", "--vsock-uds", "/v"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->config.net_fd, -1);
  EXPECT_TRUE(p->config.netns.empty());
  for (const VirtioSlotPlan& slot : plan_virtio_slots(p->config)) {
    EXPECT_NE(slot.kind, VirtioSlotPlan::Kind::kNet);
  }
}

TEST(NetFlags, NetMac) {
  OpenFd tap;
  const std::string fd = tap.text();
  auto p = parse({"--kernel", "/k", "--net-fd", fd.c_str(), "--net-mac", "0A:1b:2C:3d:4E:5f"});
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->config.net_mac, (std::array<uint8_t, 6>{0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f}));
  EXPECT_EQ(format_mac(p->config.net_mac), "0a:1b:2c:3d:4e:5f");
  for (const char* bad : {"06:00:ac:10:00", "06:00:ac:10:00:02:03", "06-00-ac-10-00-02",
                          "06:00:ac:10:00:0g", "6:00:ac:10:00:002", "+6:00:ac:10:00:02", ""}) {
    auto r = parse({"--kernel", "/k", "--net-fd", fd.c_str(), "--net-mac", bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find("--net-mac"), std::string::npos) << r.error().message();
  }
  auto multicast =
      parse({"--kernel", "/k", "--net-fd", fd.c_str(), "--net-mac", "01:00:5e:00:00:01"});
  ASSERT_FALSE(multicast.ok());
  EXPECT_NE(multicast.error().message().find("multicast"), std::string::npos);
  auto alone = parse({"--kernel", "/k", "--net-mac", "06:00:ac:10:00:02"});
  ASSERT_FALSE(alone.ok());
  EXPECT_NE(alone.error().message().find("--net-fd"), std::string::npos);
}

TEST(NetFlags, NetFdMustBeAnOpenInheritedDescriptor) {
  int closed = -1;
  {
    OpenFd gone;
    closed = gone.fd.get();
  }
  const std::string closed_text = std::to_string(closed);
  auto p = parse({"--kernel", "/k", "--net-fd", closed_text.c_str()});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("--net-fd " + closed_text), std::string::npos);
  EXPECT_NE(p.error().message().find("not open"), std::string::npos) << p.error().message();
  for (const char* bad : {"0", "2", "-1", "tap0", ""}) {
    EXPECT_FALSE(parse({"--kernel", "/k", "--net-fd", bad}).ok()) << bad;
  }
  EXPECT_FALSE(parse({"--kernel", "/k", "--netns", ""}).ok());
}

TEST(Flags, LifelineFdInEveryModeAndOpen) {
  OpenFd lifeline;
  const std::string fd = lifeline.text();
  for (std::vector<const char*> args : std::vector<std::vector<const char*>>{
           {"--kernel", "/k"}, {"--restore", "/s"}, {"--standby", "--api-sock", "/a"}}) {
    args.insert(args.end(), {"--lifeline-fd", fd.c_str()});
    auto p = parse(args);
    ASSERT_TRUE(p.ok()) << args[0] << ": " << p.error().message();
    EXPECT_EQ(p->config.lifeline_fd, lifeline.fd.get());
  }
  EXPECT_EQ(parse({"--kernel", "/k"})->config.lifeline_fd, -1);
  int closed = -1;
  {
    OpenFd gone;
    closed = gone.fd.get();
  }
  const std::string closed_text = std::to_string(closed);
  auto p = parse({"--kernel", "/k", "--lifeline-fd", closed_text.c_str()});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("--lifeline-fd " + closed_text + ": file descriptor"),
            std::string::npos)
      << p.error().message();
  EXPECT_FALSE(parse({"--kernel", "/k", "--lifeline-fd", "1"}).ok());
}

TEST(Flags, StandbyTimeoutOnlyWithStandby) {
  auto p = parse({"--standby", "--api-sock", "/a", "--standby-timeout", "600"});
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->config.standby_timeout, std::chrono::seconds(600));
  EXPECT_EQ(parse({"--standby", "--api-sock", "/a"})->config.standby_timeout.count(), 0);
  auto negative = parse({"--standby", "--api-sock", "/a", "--standby-timeout", "-1"});
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message().find("0 or more"), std::string::npos);
  auto booted = parse({"--kernel", "/k", "--standby-timeout", "5"});
  ASSERT_FALSE(booted.ok());
  EXPECT_NE(booted.error().message().find("needs --standby"), std::string::npos);
}

TEST(NetFlags, TooManyDevicesCountsTheNetworkDevice) {
  OpenFd tap;
  const std::string fd = tap.text();
  std::vector<const char*> args = {"--kernel", "/k", "--net-fd", fd.c_str()};
  for (uint32_t i = 0; i < layout::kMaxVirtioDevices; ++i) {
    args.push_back("--disk");
    args.push_back("/d");
  }
  auto p = parse(args);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("too many devices"), std::string::npos);
}

TEST(NetFlags, RestoreAndStandbyTakeNetFdAndNetnsButNotAMac) {
  OpenFd tap;
  const std::string fd = tap.text();
  auto r = parse({"--restore", "/snap", "--net-fd", fd.c_str(), "--netns", "/run/netns/x"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->config.net_fd, tap.fd.get());
  EXPECT_EQ(r->config.netns, "/run/netns/x");
  auto s = parse({"--standby", "--api-sock", "/a", "--net-fd", fd.c_str(), "--netns", "/n"});
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->config.net_fd, tap.fd.get());
  EXPECT_EQ(s->config.netns, "/n");
  for (std::vector<const char*> args : std::vector<std::vector<const char*>>{
           {"--restore", "/snap", "--net-fd", fd.c_str(), "--net-mac", "06:00:ac:10:00:09"},
           {"--standby", "--api-sock", "/a", "--net-mac", "06:00:ac:10:00:09"}}) {
    auto p = parse(args);
    ASSERT_FALSE(p.ok()) << args[0];
    EXPECT_NE(p.error().message().find("--net-mac"), std::string::npos) << p.error().message();
  }
}

TEST(NetRestore, NetFdExactlyWhenTheSnapshotHasANetworkDevice) {
  SnapshotMachine m;
  m.mem_mib = 128;
  m.vcpus = 1;
  m.has_net = true;
  m.net_mac = {0x06, 0, 0, 0, 0, 0x42};
  VmmConfig flags;
  flags.restore_dir = "/snap";
  auto missing = restored_config(flags, m);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("--net-fd"), std::string::npos);
  flags.net_fd = 9;
  auto with = restored_config(flags, m);
  ASSERT_TRUE(with.ok()) << with.error().message();
  EXPECT_EQ(with->net_fd, 9);
  EXPECT_EQ(with->net_mac, m.net_mac) << "the snapshot's MAC";
  EXPECT_EQ(plan_virtio_slots(*with).back().kind, VirtioSlotPlan::Kind::kNet);
  m.has_net = false;
  auto extra = restored_config(flags, m);
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.error().message().find("no network device"), std::string::npos);
}

TEST(NetNamespace, JoinErrorsNameThePath) {
  auto missing = join_network_namespace("/nonexistent/ember-netns");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("/nonexistent/ember-netns"), std::string::npos);
  EXPECT_NE(missing.error().message().find("--netns"), std::string::npos);
  auto not_netns = join_network_namespace("/dev/null");
  ASSERT_FALSE(not_netns.ok());
  EXPECT_NE(not_netns.error().message().find("/dev/null"), std::string::npos);
  EXPECT_NE(not_netns.error().message().find("network namespace"), std::string::npos);
}

}  // namespace
}  // namespace ember::vmm
