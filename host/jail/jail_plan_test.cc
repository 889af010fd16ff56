// Which files a VMM command line needs in its jail, and the bind mounts for them.
#include "host/jail/jail_plan.h"

#include <gtest/gtest.h>

namespace ember::host::jail {
namespace {

using Paths = std::vector<std::string>;

TEST(JailPlanTest, BootCommandNeedsKernelImagesAndDisks) {
  auto p = vmm_paths({"/b/ember-vmm", "--kernel", "/g/vmlinux", "--initrd", "/g/init.cpio",
                      "--root", "/g/root.erofs", "--disk", "/s/code/a.erofs:ro", "--disk",
                      "/tmp/scratch:rw", "--disk", "/tmp/plain", "--mem-mib", "128", "--vsock-uds",
                      "/s/jail/1/run/v.vsock", "--api-sock", "/s/jail/1/run/v.api"});
  EXPECT_EQ(p.read_only, (Paths{"/g/vmlinux", "/g/init.cpio", "/g/root.erofs", "/s/code/a.erofs"}));
  EXPECT_EQ(p.read_write, (Paths{"/tmp/scratch", "/tmp/plain"}));
}

TEST(JailPlanTest, RestoreCommandNeedsTheSnapshot) {
  auto p = vmm_paths({"/b/ember-vmm", "--restore", "/s/snap/f/r", "--vsock-uds", "/x.vsock",
                      "--disk", "/g/root.erofs:ro"});
  EXPECT_EQ(p.read_only, (Paths{"/s/snap/f/r", "/g/root.erofs"}));
  EXPECT_TRUE(p.read_write.empty());
  // argv[0] is never a flag value, and a standby needs nothing from its command line.
  EXPECT_TRUE(vmm_paths({"--kernel", "--standby", "--api-sock", "/a"}).read_only.empty());
}

TEST(JailPlanTest, PathInRoot) {
  EXPECT_EQ(path_in_root("/j/root", "/a/b"), "/j/root/a/b");
  EXPECT_EQ(path_in_root("/j/root/", "//a//b/"), "/j/root/a/b");
  EXPECT_EQ(path_in_root("/", "/a"), "/a");
}

TEST(JailPlanTest, BindsParentsFirstOnceEachReadWriteWins) {
  auto binds = plan_binds("/j/r", {{"/s/x/f", "/s/x", "/k", "/s/x"}, {"/s/x/f"}});
  ASSERT_EQ(binds.size(), 3u);
  EXPECT_EQ(binds[0].source, "/k");
  EXPECT_EQ(binds[0].target, "/j/r/k");
  EXPECT_TRUE(binds[0].read_only);
  EXPECT_EQ(binds[1].source, "/s/x");
  EXPECT_TRUE(binds[1].read_only);
  EXPECT_EQ(binds[2].source, "/s/x/f");
  EXPECT_EQ(binds[2].target, "/j/r/s/x/f");
  EXPECT_FALSE(binds[2].read_only);
}

}  // namespace
}  // namespace ember::host::jail
