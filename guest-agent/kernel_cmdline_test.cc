// Tests for the kernel command line parser.
#include "guest-agent/kernel_cmdline.h"

#include <gtest/gtest.h>

namespace ember::agent {
namespace {

TEST(KernelCmdline, DefaultsMatchTheVmm) {
  BootConfig c = boot_config_from_cmdline("console=ttyS0 reboot=k panic=-1\n");
  EXPECT_EQ(c.root_device, "/dev/vda");
  EXPECT_EQ(c.root_fstype, "erofs");
  EXPECT_EQ(c.tmp_mib, 512u);
  EXPECT_EQ(c.hostname, "ember");
  EXPECT_FALSE(c.boot_test);
}

TEST(KernelCmdline, ReadsEmberSettings) {
  BootConfig c = boot_config_from_cmdline(
      "reboot=k root=/dev/vdb ro rootfstype=ext4 ember.tmp_mib=1024 ember.hostname=fn-1 "
      "ember.boot_test\n");
  EXPECT_EQ(c.root_device, "/dev/vdb");
  EXPECT_EQ(c.root_fstype, "ext4");
  EXPECT_EQ(c.tmp_mib, 1024u);
  EXPECT_EQ(c.hostname, "fn-1");
  EXPECT_TRUE(c.boot_test);
}

TEST(KernelCmdline, BadNumbersKeepTheDefault) {
  EXPECT_EQ(boot_config_from_cmdline("ember.tmp_mib=12x").tmp_mib, 512u);
  EXPECT_EQ(boot_config_from_cmdline("ember.tmp_mib=").tmp_mib, 512u);
  EXPECT_EQ(boot_config_from_cmdline("ember.tmp_mib=0").tmp_mib, 512u);
}

TEST(KernelCmdline, QuotesGroupWordsAndLaterKeysWin) {
  auto args = parse_cmdline("  a=1 b=\"x y\"\tflag a=2 ");
  EXPECT_EQ(args.size(), 3u);
  EXPECT_EQ(args["a"], "2");
  EXPECT_EQ(args["b"], "x y");
  EXPECT_EQ(args.count("flag"), 1u);
  EXPECT_EQ(args["flag"], "");
}

}  // namespace
}  // namespace ember::agent
