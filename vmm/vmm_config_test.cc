// Tests for flag parsing, the virtio slot plan and the command line built from a config.
#include "vmm/vmm_config.h"

#include <gtest/gtest.h>

#include <vector>

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
                           "--vsock-cid", "--vsock-uds", "--cmdline", "--console", "--log-level"}) {
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

}  // namespace
}  // namespace ember::vmm
