// Tests for emberd's flag parsing.
#include "host/api/emberd_flags.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <unistd.h>

#include <vector>

namespace ember::host {
namespace {

Result<EmberdFlags> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "emberd");
  return parse_emberd_flags(static_cast<int>(args.size()), args.data());
}

TEST(EmberdFlags, Defaults) {
  auto flags = parse({});
  ASSERT_TRUE(flags.ok()) << flags.error().message();
  const EmberdConfig& c = flags->config;
  EXPECT_EQ(c.socket_path, "/run/ember/ember.sock");
  EXPECT_EQ(c.state_dir, "/var/lib/ember");
  EXPECT_EQ(c.listen, "");
  EXPECT_EQ(c.credentials_file, "");
  EXPECT_FALSE(c.insecure_no_auth);
  EXPECT_EQ(c.socket_group, "ember");
  EXPECT_EQ(c.region, "us-east-1");
  EXPECT_EQ(c.drain_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.invoker.init_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.invoker.vmm_path, "ember-vmm");
  EXPECT_EQ(c.invoker.state_dir, "/var/lib/ember");
  EXPECT_GE(c.invoker.max_vm_memory_mib, 128u);  // half the host's RAM
}

TEST(EmberdFlags, EveryFlagReachesTheConfig) {
  auto flags = parse({"--socket",
                      "/tmp/e.sock",
                      "--state-dir",
                      "/tmp/state",
                      "--listen",
                      "127.0.0.1:9000",
                      "--credentials",
                      "/etc/ember/credentials",
                      "--socket-group",
                      "lambda",
                      "--region",
                      "eu-west-1",
                      "--max-vm-memory-mib",
                      "4096",
                      "--vmm",
                      "/opt/ember-vmm",
                      "--kernel",
                      "/k/vmlinux",
                      "--rootfs",
                      "/r.erofs",
                      "--initramfs",
                      "/i.cpio",
                      "--drain-timeout-s",
                      "5",
                      "--max-connections",
                      "8",
                      "--handler-threads",
                      "16",
                      "--request-timeout-s",
                      "9",
                      "--standby-vmms",
                      "3",
                      "--init-timeout-s",
                      "120"});
  ASSERT_TRUE(flags.ok()) << flags.error().message();
  const EmberdConfig& c = flags->config;
  EXPECT_EQ(c.socket_path, "/tmp/e.sock");
  EXPECT_EQ(c.state_dir, "/tmp/state");
  EXPECT_EQ(c.listen, "127.0.0.1:9000");
  EXPECT_EQ(c.credentials_file, "/etc/ember/credentials");
  EXPECT_FALSE(c.insecure_no_auth);
  EXPECT_EQ(c.socket_group, "lambda");
  EXPECT_EQ(c.region, "eu-west-1");
  EXPECT_EQ(c.drain_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.max_connections, 8u);
  EXPECT_EQ(c.handler_threads, 16u);
  EXPECT_EQ(c.request_timeout, std::chrono::seconds(9));
  EXPECT_EQ(c.invoker.state_dir, "/tmp/state");
  EXPECT_EQ(c.invoker.region, "eu-west-1");
  EXPECT_EQ(c.invoker.max_vm_memory_mib, 4096u);
  EXPECT_EQ(c.invoker.vmm_path, "/opt/ember-vmm");
  EXPECT_EQ(c.invoker.kernel, "/k/vmlinux");
  EXPECT_EQ(c.invoker.rootfs, "/r.erofs");
  EXPECT_EQ(c.invoker.initramfs, "/i.cpio");
  EXPECT_EQ(c.invoker.standby_vmms, 3u);
  EXPECT_EQ(c.invoker.init_timeout, std::chrono::seconds(120));
}

TEST(EmberdFlags, RelativeGuestFilesBecomeAbsolute) {
  // The jailer binds them into each VMM's root, which needs absolute paths.
  auto flags = parse({"--kernel", "build/vmlinux", "--rootfs", "./r.erofs", "--initramfs",
                      "build/guest/../guest/initramfs.cpio"});
  ASSERT_TRUE(flags.ok()) << flags.error().message();
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(flags->config.invoker.kernel, cwd + "/build/vmlinux");
  EXPECT_EQ(flags->config.invoker.rootfs, cwd + "/r.erofs");
  EXPECT_EQ(flags->config.invoker.initramfs, cwd + "/build/guest/initramfs.cpio");
}

TEST(EmberdFlags, RefusesBadValues) {
  EXPECT_FALSE(parse({"--bogus"}).ok());
  EXPECT_FALSE(parse({"--listen", "9000"}).ok());
  EXPECT_FALSE(parse({"--region", "Mars"}).ok());
  EXPECT_FALSE(parse({"--max-vm-memory-mib", "64"}).ok());
  EXPECT_FALSE(parse({"--max-connections", "0"}).ok());
  EXPECT_FALSE(parse({"--handler-threads", "0"}).ok());
  EXPECT_FALSE(parse({"--request-timeout-s", "0"}).ok());
  EXPECT_FALSE(parse({"--socket", ""}).ok());
  EXPECT_FALSE(parse({"--drain-timeout-s", "x"}).ok());
  EXPECT_FALSE(parse({"--standby-vmms", "65"}).ok());
  EXPECT_FALSE(parse({"--init-timeout-s", "0"}).ok());
  EXPECT_FALSE(parse({"--init-timeout-s", "901"}).ok());
}

TEST(EmberdFlags, Network) {
  auto defaults = parse({});
  ASSERT_TRUE(defaults.ok()) << defaults.error().message();
  EXPECT_TRUE(defaults->config.network);
  EXPECT_EQ(defaults->config.dns, "");
  EXPECT_EQ(defaults->config.invoker.egress_default.kind, net::EgressPolicy::Kind::kInternet);

  auto flags = parse({"--network", "off", "--dns", "192.0.2.53", "--egress-default",
                      "10.1.0.0/16:5432", "--vm-connections", "64", "--vm-bandwidth-mbit", "50"});
  ASSERT_TRUE(flags.ok()) << flags.error().message();
  const EmberdConfig& c = flags->config;
  EXPECT_FALSE(c.network);
  EXPECT_EQ(c.dns, "192.0.2.53");
  EXPECT_EQ(net::format_egress_policy(c.invoker.egress_default), "10.1.0.0/16:5432");
  EXPECT_EQ(c.vm_max_connections, 64u);
  EXPECT_EQ(c.vm_bandwidth_mbit, 50u);

  auto bad_policy = parse({"--egress-default", "everywhere"});
  ASSERT_FALSE(bad_policy.ok());
  EXPECT_NE(bad_policy.error().message().find("--egress-default"), std::string::npos);
  EXPECT_FALSE(parse({"--network", "maybe"}).ok());
  EXPECT_FALSE(parse({"--dns", "resolver.example"}).ok());
  EXPECT_FALSE(parse({"--vm-connections", "8"}).ok());
  EXPECT_FALSE(parse({"--vm-bandwidth-mbit", "0"}).ok());
}

TEST(EmberdFlags, TheTcpListenerNeedsKeysOrAnExplicitInsecureLoopback) {
  auto bare = parse({"--listen", "127.0.0.1:9000"});
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.error().message().find("--credentials FILE"), std::string::npos);
  EXPECT_NE(bare.error().message().find("--insecure-no-auth"), std::string::npos);

  for (const char* loopback : {"127.0.0.1:9000", "127.8.9.10:0", "[::1]:9000", "localhost:9000"}) {
    auto insecure = parse({"--listen", loopback, "--insecure-no-auth"});
    ASSERT_TRUE(insecure.ok()) << loopback << ": " << insecure.error().message();
    EXPECT_TRUE(insecure->config.insecure_no_auth);
  }
  for (const char* open : {"0.0.0.0:9000", ":9000", "[::]:9000", "192.0.2.1:9000",
                           "[::ffff:127.0.0.1]:9000", "ember.example:9000"}) {
    auto refused = parse({"--listen", open, "--insecure-no-auth"});
    ASSERT_FALSE(refused.ok()) << open;
    EXPECT_NE(refused.error().message().find("--insecure-no-auth is refused with --listen " +
                                             std::string(open)),
              std::string::npos)
        << refused.error().message();
  }
  EXPECT_FALSE(parse({"--listen", "127.0.0.1:9000", "--credentials", "/c", "--insecure-no-auth"})
                   .ok());
  EXPECT_FALSE(parse({"--credentials", ""}).ok());
  EXPECT_FALSE(parse({"--socket-group", ""}).ok());
  // Keys without a TCP listener are allowed (the Unix socket needs none).
  EXPECT_TRUE(parse({"--credentials", "/c"}).ok());
}

TEST(EmberdFlags, Jail) {
  auto defaults = parse({});
  ASSERT_TRUE(defaults.ok());
  // On by default exactly when emberd runs as root (the jailer needs it).
  EXPECT_EQ(defaults->config.invoker.jail.enabled, ::geteuid() == 0);
  EXPECT_EQ(defaults->config.invoker.jail.uids.first, 900000u);
  EXPECT_EQ(defaults->config.invoker.jail.uids.last, 965535u);
  EXPECT_EQ(defaults->config.invoker.jail.jailer_path, "");

  auto on = parse({"--jail", "on", "--jail-uids", "70000-70009", "--jailer", "/opt/ember-jailer"});
  ASSERT_TRUE(on.ok()) << on.error().message();
  EXPECT_TRUE(on->config.invoker.jail.enabled);
  EXPECT_EQ(on->config.invoker.jail.uids.first, 70000u);
  EXPECT_EQ(on->config.invoker.jail.uids.last, 70009u);
  EXPECT_EQ(on->config.invoker.jail.jailer_path, "/opt/ember-jailer");
  auto off = parse({"--jail", "off"});
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->config.invoker.jail.enabled);

  auto bad = parse({"--jail", "yes"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("--jail must be on or off"), std::string::npos);
  for (const char* range : {"0-100", "10-5", "5", "a-b"}) {
    auto r = parse({"--jail-uids", range});
    ASSERT_FALSE(r.ok()) << range;
    EXPECT_NE(r.error().message().find("--jail-uids"), std::string::npos) << r.error().message();
  }
  EXPECT_FALSE(parse({"--jailer", ""}).ok());
}

TEST(EmberdFlags, TheSeccompTestHookNamesOneFunction) {
  auto hooked = parse({"--test-forbidden-syscall-in", "doomed"});
  ASSERT_TRUE(hooked.ok());
  EXPECT_EQ(hooked->config.invoker.test_forbidden_syscall_in, "doomed");
  EXPECT_EQ(parse({})->config.invoker.test_forbidden_syscall_in, "");
}

TEST(EmberdFlags, Help) {
  auto flags = parse({"--help"});
  ASSERT_TRUE(flags.ok());
  EXPECT_TRUE(flags->help);
  EXPECT_NE(emberd_usage().find("--listen"), std::string::npos);
  EXPECT_NE(emberd_usage().find("--credentials"), std::string::npos);
  EXPECT_NE(emberd_usage().find("--insecure-no-auth"), std::string::npos);
  EXPECT_NE(emberd_usage().find("--socket-group"), std::string::npos);
}

}  // namespace
}  // namespace ember::host
