// Tests of egress policy parsing and canonical formatting.
#include "host/net/egress_policy.h"

#include <gtest/gtest.h>

#include "host/net/ipv4.h"

namespace ember::host::net {
namespace {

using Kind = EgressPolicy::Kind;

TEST(Ipv4, ParsesAndFormats) {
  EXPECT_EQ(parse_ipv4("10.200.1.2"), ipv4(10, 200, 1, 2));
  EXPECT_EQ(parse_ipv4("0.0.0.0"), 0u);
  EXPECT_EQ(parse_ipv4("255.255.255.255"), 0xffffffffu);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4",
                          " 1.2.3.4", "1.2.3.4 ", "1..3.4", "a.b.c.d", "1.2.3.1234"}) {
    EXPECT_FALSE(parse_ipv4(bad).has_value()) << bad;
  }
  EXPECT_EQ(format_ipv4(ipv4(192, 0, 2, 255)), "192.0.2.255");
  EXPECT_EQ(prefix_mask(0), 0u);
  EXPECT_EQ(prefix_mask(30), 0xfffffffcu);
  EXPECT_EQ(prefix_mask(32), 0xffffffffu);
}

TEST(EgressPolicy, NoneAndInternet) {
  auto none = parse_egress_policy("none");
  ASSERT_TRUE(none.ok()) << none.error().message();
  EXPECT_EQ(none->kind, Kind::kNone);
  auto internet = parse_egress_policy(" internet ");
  ASSERT_TRUE(internet.ok()) << internet.error().message();
  EXPECT_EQ(internet->kind, Kind::kInternet);
  EXPECT_TRUE(internet->allow.empty());
  EXPECT_EQ(EgressPolicy{}.kind, Kind::kInternet);  // the default
}

TEST(EgressPolicy, Allowlist) {
  auto p = parse_egress_policy("203.0.113.0/24, 198.51.100.7:443,192.0.2.0/28:8000-8100");
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->kind, Kind::kAllowlist);
  ASSERT_EQ(p->allow.size(), 3u);
  // Sorted by network.
  EXPECT_EQ(p->allow[0], (EgressRule{ipv4(192, 0, 2, 0), 28, 8000, 8100}));
  EXPECT_EQ(p->allow[1], (EgressRule{ipv4(198, 51, 100, 7), 32, 443, 443}));
  EXPECT_EQ(p->allow[2], (EgressRule{ipv4(203, 0, 113, 0), 24, 0, 65535}));
  EXPECT_TRUE(p->allow[2].all_ports());
  EXPECT_FALSE(p->allow[1].all_ports());
  auto everything = parse_egress_policy("0.0.0.0/0");
  ASSERT_TRUE(everything.ok()) << everything.error().message();
  EXPECT_EQ(everything->allow[0], (EgressRule{0, 0, 0, 65535}));
}

TEST(EgressPolicy, CanonicalTextRoundTrips) {
  auto p = parse_egress_policy("203.0.113.0/24,198.51.100.7:443,203.0.113.0/24,10.0.0.1:1-65535");
  ASSERT_TRUE(p.ok()) << p.error().message();
  const std::string canonical = format_egress_policy(*p);
  EXPECT_EQ(canonical, "10.0.0.1/32:1-65535,198.51.100.7/32:443,203.0.113.0/24");
  auto again = parse_egress_policy(canonical);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(*again, *p);
  EXPECT_EQ(format_egress_policy(*again), canonical);
  // Order and duplicates do not matter.
  auto shuffled = parse_egress_policy(
      "198.51.100.7/32:443-443,10.0.0.1/32:1-65535,"
      "203.0.113.0/24");
  ASSERT_TRUE(shuffled.ok()) << shuffled.error().message();
  EXPECT_EQ(format_egress_policy(*shuffled), canonical);
  for (const char* text : {"none", "internet"}) {
    auto q = parse_egress_policy(text);
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(format_egress_policy(*q), text);
  }
}

TEST(EgressPolicy, AtMost64Entries) {
  std::string text;
  for (int i = 0; i < 64; ++i) {
    if (i > 0) text += ',';
    text += "198.51.100.";
    text += std::to_string(i);
  }
  auto ok = parse_egress_policy(text);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->allow.size(), 64u);
  auto too_many = parse_egress_policy(text + ",198.51.100.200");
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().message().find("more than 64"), std::string::npos);
}

TEST(EgressPolicy, BadEntriesAreNamed) {
  struct Case {
    const char* text;
    const char* names;  // what the message must mention
  };
  for (const Case& c : std::initializer_list<Case>{
           {"everything", "'everything'"},
           {"None", "'None'"},
           {"1.2.3", "'1.2.3'"},
           {"198.51.100.7,1.2.3.4/33", "'1.2.3.4/33'"},
           {"1.2.3.4/", "'1.2.3.4/'"},
           {"10.1.2.3/24", "did you mean 10.1.2.0/24?"},
           {"1.2.3.4:", "'1.2.3.4:'"},
           {"1.2.3.4:0", "'1.2.3.4:0'"},
           {"1.2.3.4:65536", "'1.2.3.4:65536'"},
           {"1.2.3.4:http", "'1.2.3.4:http'"},
           {"1.2.3.4:90-80", "reversed"},
           {"1.2.3.4:80-", "'1.2.3.4:80-'"},
           {"1.2.3.4,,5.6.7.8", "empty entry"},
           {"1.2.3.4,", "empty entry"},
           {"", "empty"},
       }) {
    auto p = parse_egress_policy(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    const std::string message = p.error().message();
    EXPECT_NE(message.find(c.names), std::string::npos) << c.text << ": " << message;
    EXPECT_NE(message.find("CIDR[:PORT[-PORT]]"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace ember::host::net
