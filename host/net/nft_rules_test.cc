// Tests of the rendered nft rules, addressing, resolv.conf reading and the Nft wrapper; the
// rendered rulesets are also checked by the real nft (`nft -c -f`) when it can run here.
#include "host/net/nft_rules.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "host/net/addressing.h"
#include "host/net/nft.h"
#include "host/net/resolv_conf.h"

namespace ember::host::net {
namespace {

constexpr uint32_t kResolver = ipv4(192, 0, 2, 53);

EgressPolicy policy(const char* text) {
  auto p = parse_egress_policy(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.error().message();
  return p.ok() ? *p : EgressPolicy{};
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Addressing, PerIndexNamesAndAddresses) {
  EXPECT_EQ(netns_name(7), "ember-vm-7");
  EXPECT_EQ(netns_path(7), "/run/netns/ember-vm-7");
  EXPECT_EQ(host_ifname(16383), "emb16383");
  EXPECT_EQ(format_ipv4(host_veth_ip(0)), "10.200.0.1");
  EXPECT_EQ(format_ipv4(netns_veth_ip(0)), "10.200.0.2");
  EXPECT_EQ(format_ipv4(host_veth_ip(63)), "10.200.0.253");
  EXPECT_EQ(format_ipv4(host_veth_ip(64)), "10.200.1.1");
  EXPECT_EQ(format_ipv4(netns_veth_ip(kMaxVms - 1)), "10.200.255.254");
  EXPECT_EQ(guest_kernel_args(), "ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off");
}

TEST(NftRules, HostRuleset) {
  const std::string text = host_ruleset({kResolver, 1'250'000, 100});
  EXPECT_TRUE(text.starts_with("table inet ember {"));
  EXPECT_TRUE(has(text, "ip saddr 10.200.0.0/16 oifname != \"emb*\" masquerade"));
  const std::string judge = " meta mark set iifname map @egress meta mark vmap @policies\n";
  const std::string sets = "type ipv4_addr; size 16384; flags dynamic";
  EXPECT_TRUE(has(text, "type ifname : mark"));
  EXPECT_TRUE(has(text, "type mark : verdict"));
  EXPECT_TRUE(has(text, "ip daddr 192.0.2.53 udp dport 53" + judge));
  EXPECT_TRUE(has(text, "ip daddr 192.0.2.53 tcp dport 53" + judge));
  EXPECT_TRUE(has(text, "ct count over 100"));
  EXPECT_TRUE(has(text, "ip saddr limit rate over 1250000 bytes/second"));
  EXPECT_TRUE(has(text, "ip daddr limit rate over 1250000 bytes/second"));
  EXPECT_TRUE(has(text, "\t\t" + judge.substr(1) + "\t\tgoto refuse\n"));  // unassigned: refused
  EXPECT_TRUE(has(text, "set vm_conns {\n\t\t" + sets + ";\n"));
  EXPECT_TRUE(has(text, "set vm_up {\n\t\t" + sets + ",timeout; timeout 1m;\n"));
  EXPECT_FALSE(has(text, "ct state established,related accept\n\t\tct state invalid"));
  EXPECT_TRUE(has(text, "oifname \"emb*\" goto refuse"));  // no VM-to-VM
  EXPECT_TRUE(has(text, "reject with tcp reset"));
  EXPECT_TRUE(has(text, "reject with icmpx admin-prohibited"));
  // No limits configured, no limit rules.
  const std::string unlimited = host_ruleset({kResolver, 0, 0});
  EXPECT_FALSE(has(unlimited, "limit rate"));
  EXPECT_FALSE(has(unlimited, "ct count"));
}

TEST(NftRules, PolicyChains) {
  EXPECT_EQ(policy_chain_name(policy("none")), "egress_none");
  EXPECT_EQ(policy_chain_name(policy("internet")), "egress_internet");
  const std::string a = policy_chain_name(policy("198.51.100.7:443,203.0.113.0/24"));
  EXPECT_EQ(a.size(), std::string("egress_").size() + 16);
  EXPECT_TRUE(a.starts_with("egress_"));
  EXPECT_EQ(a, policy_chain_name(policy("203.0.113.0/24, 198.51.100.7/32:443")));
  EXPECT_NE(a, policy_chain_name(policy("203.0.113.0/24,198.51.100.7:444")));

  const std::string none = policy_chain(policy("none"), kResolver);
  EXPECT_TRUE(has(none, "chain egress_none {\n\t\tmeta mark set 0\n\t\tgoto refuse\n\t}"));
  EXPECT_FALSE(has(none, "dport 53"));

  const std::string internet = policy_chain(policy("internet"), kResolver);
  EXPECT_TRUE(has(internet, "ip daddr 192.0.2.53 udp dport 53 accept"));
  EXPECT_TRUE(has(internet, "ip daddr 192.0.2.53 tcp dport 53 accept"));
  for (const char* range :
       {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4"}) {
    EXPECT_TRUE(has(internet, "ip daddr " + std::string(range) + " goto refuse\n")) << range;
  }
  EXPECT_TRUE(has(internet, "240.0.0.0/4 goto refuse\n\t\taccept\n\t}"));
  EXPECT_FALSE(has(internet, "{ "));  // no anonymous sets (they slow every nft command)

  const EgressPolicy list = policy("203.0.113.0/24,198.51.100.7:443,192.0.2.0/28:8000-8100");
  const std::string allow = policy_chain(list, kResolver);
  EXPECT_TRUE(has(allow, "table inet ember {\n\tchain " + policy_chain_name(list) + " {\n"));
  EXPECT_TRUE(has(allow, "ip daddr 192.0.2.53 udp dport 53 accept"));
  EXPECT_TRUE(has(allow, "ip daddr 203.0.113.0/24 accept"));
  EXPECT_TRUE(has(allow,
                  "ip daddr 198.51.100.7 tcp dport 443 accept\n"
                  "\t\tip daddr 198.51.100.7 udp dport 443 accept\n"));
  EXPECT_TRUE(has(allow,
                  "ip daddr 192.0.2.0/28 tcp dport 8000-8100 accept\n"
                  "\t\tip daddr 192.0.2.0/28 udp dport 8000-8100 accept\n"));
  EXPECT_FALSE(has(allow, "{ "));
  EXPECT_TRUE(has(allow, "accept\n\t\tgoto refuse\n\t}"));
  EXPECT_FALSE(has(allow, "10.0.0.0/8"));
}

TEST(NftRules, MapCommandsAndNetnsRuleset) {
  EXPECT_EQ(assign_command("emb3", 7), "add element inet ember egress { \"emb3\" : 7 }\n");
  EXPECT_EQ(add_policy_command(7, "egress_none"),
            "add element inet ember policies { 7 : jump egress_none }\n");
  EXPECT_EQ(delete_policy_commands(7, "egress_none"),
            "delete element inet ember policies { 7 }\ndelete chain inet ember egress_none\n");
  EXPECT_EQ(unassign_command("emb3"), "delete element inet ember egress { \"emb3\" }\n");
  const std::string netns = netns_ruleset(kResolver);
  EXPECT_TRUE(
      has(netns, "iifname \"tap0\" ip daddr 172.16.0.1 udp dport 53 dnat ip to 192.0.2.53"));
  EXPECT_TRUE(
      has(netns, "iifname \"tap0\" ip daddr 172.16.0.1 tcp dport 53 dnat ip to 192.0.2.53"));
  EXPECT_TRUE(has(netns, "oifname \"veth0\" masquerade"));
  EXPECT_TRUE(
      has(netns, "iifname \"tap0\" meta l4proto tcp ct state invalid reject with tcp reset"));
  EXPECT_TRUE(has(netns, "iifname \"tap0\" reject with icmpx admin-prohibited"));  // input
}

// `nft -c -f FILE` checks a ruleset in the kernel without applying it; it needs root.
int nft_check(const std::string& ruleset, std::string* output) {
  char path[] = "/tmp/ember-nft-check-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return -1;
  (void)!::write(fd, ruleset.data(), ruleset.size());
  ::close(fd);
  FILE* p = ::popen(("nft -c -f " + std::string(path) + " 2>&1").c_str(), "r");
  char buf[512];
  while (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) *output += buf;
  const int status = p != nullptr ? ::pclose(p) : -1;
  ::unlink(path);
  return status;
}

TEST(NftRules, RealNftAcceptsTheRulesets) {
  if (std::system("command -v nft >/dev/null 2>&1") != 0) GTEST_SKIP() << "nft is not installed";
  if (::geteuid() != 0) GTEST_SKIP() << "nft -c needs root";
  std::string all = host_ruleset({kResolver, 1'250'000, 100});
  int n = 0;
  for (const char* p : {"none", "internet", "203.0.113.0/24,198.51.100.7:443,192.0.2.0/28:80-88"}) {
    all += policy_chain(policy(p), kResolver);
    all += add_policy_command(static_cast<uint32_t>(n + 1), policy_chain_name(policy(p)));
    all += assign_command("emb" + std::to_string(n), static_cast<uint32_t>(n + 1));
    ++n;
  }
  std::string out;
  EXPECT_EQ(nft_check(all, &out), 0) << out << "\n" << all;
  out.clear();
  EXPECT_EQ(nft_check(host_ruleset({kResolver, 0, 0}), &out), 0) << out;
  out.clear();
  EXPECT_EQ(nft_check(netns_ruleset(kResolver), &out), 0) << out;
  // And the checker is not blind: a broken rule is refused.
  out.clear();
  EXPECT_NE(nft_check("table inet ember { chain c { ip daddr 1.2.3 accept } }", &out), 0);
}

TEST(Nft, ErrorsCarryNftsMessage) {
  auto nft = Nft::create();
  ASSERT_TRUE(nft.ok()) << nft.error().message();
  Status s = nft->run("add rule inet ember nosuchchain ip daddr 1.2.3 accept");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("1.2.3"), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("Error"), std::string::npos) << s.error().message();
}

std::string temp_file(const std::string& text) {
  char path[] = "/tmp/ember-resolv-XXXXXX";
  int fd = ::mkstemp(path);
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
  return path;
}

TEST(ResolvConf, FirstNonLoopbackIpv4Nameserver) {
  const std::string path = temp_file(
      "# comment\nsearch example.com\nnameserver 127.0.0.53\nnameserver ::1\n"
      "nameserver fd00::53\nnameserver   192.0.2.53 \nnameserver 198.51.100.53\n");
  auto r = default_resolver(path);
  ::unlink(path.c_str());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, ipv4(192, 0, 2, 53));
}

TEST(ResolvConf, NoneUsableSaysPassDns) {
  const std::string path = temp_file("nameserver 127.0.0.53\nnameserver ::1\n");
  auto r = default_resolver(path);
  ::unlink(path.c_str());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("--dns ADDR"), std::string::npos) << r.error().message();
  auto missing = default_resolver("/nonexistent/resolv.conf");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("--dns ADDR"), std::string::npos);
}

}  // namespace
}  // namespace ember::host::net
