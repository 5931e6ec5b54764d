// CIDR matching (v4, v6, edge prefixes, v4-mapped v6) and Net::Server's
// allow/deny precedence.
#include "common/access_rules.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace gatehouse {
namespace {

SocketAddress Address(const std::string& ip) {
  SocketAddress address;
  if (ip.find(':') == std::string::npos) {
    auto* in = reinterpret_cast<sockaddr_in*>(&address.storage);
    in->sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, ip.c_str(), &in->sin_addr), 1) << ip;
    address.length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    in6->sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr), 1) << ip;
    address.length = sizeof(sockaddr_in6);
  }
  return address;
}

CidrBlock Cidr(const std::string& text) {
  CidrBlock block;
  std::string error;
  EXPECT_TRUE(ParseCidr(text, &block, &error)) << text << ": " << error;
  return block;
}

AddressPattern Pattern(const std::string& text) {
  AddressPattern pattern;
  std::string error;
  EXPECT_TRUE(ParseAddressPattern(text, &pattern, &error)) << error;
  return pattern;
}

TEST(Cidr, V4Prefixes) {
  EXPECT_TRUE(Cidr("10.0.0.0/8").Contains(Address("10.255.1.2")));
  EXPECT_FALSE(Cidr("10.0.0.0/8").Contains(Address("11.0.0.1")));
  EXPECT_TRUE(Cidr("192.168.1.128/25").Contains(Address("192.168.1.200")));
  EXPECT_FALSE(Cidr("192.168.1.128/25").Contains(Address("192.168.1.127")));
}

TEST(Cidr, V4EdgePrefixes) {
  EXPECT_TRUE(Cidr("0.0.0.0/0").Contains(Address("203.0.113.9")));
  EXPECT_TRUE(Cidr("127.0.0.1/32").Contains(Address("127.0.0.1")));
  EXPECT_FALSE(Cidr("127.0.0.1/32").Contains(Address("127.0.0.2")));
  EXPECT_TRUE(Cidr("127.0.0.1").Contains(Address("127.0.0.1")));  // bare address: /32
  EXPECT_FALSE(Cidr("127.0.0.1").Contains(Address("127.0.0.2")));
}

TEST(Cidr, V6Prefixes) {
  EXPECT_TRUE(Cidr("::/0").Contains(Address("2001:db8::1")));
  EXPECT_TRUE(Cidr("::1/128").Contains(Address("::1")));
  EXPECT_FALSE(Cidr("::1/128").Contains(Address("::2")));
  EXPECT_TRUE(Cidr("2001:db8::/32").Contains(Address("2001:db8:ffff::1")));
  EXPECT_FALSE(Cidr("2001:db8::/32").Contains(Address("2001:db9::1")));
  EXPECT_TRUE(Cidr("fe80::/10").Contains(Address("febf::1")));
  EXPECT_FALSE(Cidr("fe80::/10").Contains(Address("fec0::1")));
}

TEST(Cidr, FamiliesDoNotMix) {
  EXPECT_FALSE(Cidr("0.0.0.0/0").Contains(Address("::1")));
  EXPECT_FALSE(Cidr("::/0").Contains(Address("127.0.0.1")));
}

TEST(Cidr, V4MappedPeersMatchV4Blocks) {
  EXPECT_TRUE(Cidr("127.0.0.0/8").Contains(Address("::ffff:127.0.0.1")));
  EXPECT_FALSE(Cidr("127.0.0.1/32").Contains(Address("::ffff:127.0.0.2")));
  // A block written v4-mapped matches plain v4 peers too.
  EXPECT_TRUE(Cidr("::ffff:10.0.0.0/104").Contains(Address("10.1.2.3")));
  EXPECT_FALSE(Cidr("::ffff:10.0.0.0/104").Contains(Address("11.1.2.3")));
}

// A v4-mapped peer (::ffff:a.b.c.d) is the IPv4 client it names: cidr_deny of
// its IPv4 block refuses it under cidr_allow = ::/0. An IPv4-compatible address
// (::a.b.c.d, deprecated) is an IPv6 address: a real peer with one connected
// over IPv6 (PROXY headers that name one are refused before the rules).
TEST(AccessRules, V4MappedPeerCannotPassAnIpv4CidrDenyUnderAnIpv6Allow) {
  AccessRules rules;
  rules.cidr_allow.push_back(Cidr("::/0"));
  rules.cidr_allow.push_back(Cidr("0.0.0.0/0"));
  rules.cidr_deny.push_back(Cidr("10.66.0.0/16"));
  EXPECT_FALSE(rules.Admits(Address("::ffff:10.66.1.1"), std::nullopt));
  EXPECT_FALSE(rules.Admits(Address("10.66.1.1"), std::nullopt));
  EXPECT_TRUE(rules.Admits(Address("::ffff:10.67.1.1"), std::nullopt));
  EXPECT_FALSE(Cidr("10.66.0.0/16").Contains(Address("::10.66.1.1")));
}

TEST(Cidr, Errors) {
  CidrBlock block;
  std::string error;
  EXPECT_FALSE(ParseCidr("10.0.0.0/33", &block, &error));
  EXPECT_EQ(error, "\"10.0.0.0/33\" has a bad prefix length (0-32)");
  EXPECT_FALSE(ParseCidr("::/129", &block, &error));
  EXPECT_FALSE(ParseCidr("10.0.0/8", &block, &error));
  EXPECT_FALSE(ParseCidr("10.0.0.0/", &block, &error));
  EXPECT_FALSE(ParseCidr("10.0.0.0/-1", &block, &error));
  EXPECT_FALSE(ParseCidr("host.example/8", &block, &error));
}

TEST(AccessRules, NoRulesAdmitEveryone) {
  AccessRules rules;
  EXPECT_TRUE(rules.Admits(Address("203.0.113.9"), std::nullopt));
}

TEST(AccessRules, AllowRegexIsAnchored) {
  AccessRules rules;
  rules.allow.push_back(Pattern("127\\.0\\.0\\.1"));
  EXPECT_TRUE(rules.Admits(Address("127.0.0.1"), std::nullopt));
  EXPECT_FALSE(rules.Admits(Address("127.0.0.12"), std::nullopt));  // /^rule$/
  EXPECT_FALSE(rules.Admits(Address("127.0.0.2"), std::nullopt));
}

TEST(AccessRules, DenyWinsOverAllow) {
  AccessRules rules;
  rules.allow.push_back(Pattern("127\\..*"));
  rules.deny.push_back(Pattern("127\\.0\\.0\\.2"));
  EXPECT_TRUE(rules.Admits(Address("127.0.0.1"), std::nullopt));
  EXPECT_FALSE(rules.Admits(Address("127.0.0.2"), std::nullopt));
  rules.cidr_deny.push_back(Cidr("127.0.0.3/32"));
  EXPECT_FALSE(rules.Admits(Address("127.0.0.3"), std::nullopt));
}

TEST(AccessRules, DenyAloneRefusesEveryone) {
  // Net::Server: with any rule present, a peer must match an allow.
  AccessRules rules;
  rules.deny.push_back(Pattern("10\\..*"));
  EXPECT_FALSE(rules.Admits(Address("127.0.0.1"), std::nullopt));
  EXPECT_TRUE(rules.DeniesEveryone());
}

TEST(AccessRules, CidrAllowAndRegexAllowEitherAdmits) {
  AccessRules rules;
  rules.cidr_allow.push_back(Cidr("10.0.0.0/8"));
  rules.allow.push_back(Pattern("::1"));
  EXPECT_TRUE(rules.Admits(Address("10.9.9.9"), std::nullopt));
  EXPECT_TRUE(rules.Admits(Address("::1"), std::nullopt));
  EXPECT_FALSE(rules.Admits(Address("192.0.2.1"), std::nullopt));
  EXPECT_FALSE(rules.DeniesEveryone());
}

TEST(AccessRules, HostNameMatchesWithReverseLookup) {
  AccessRules rules;
  rules.allow.push_back(Pattern(".+\\.example\\.net"));
  rules.deny.push_back(Pattern("bad\\.example\\.net"));
  EXPECT_TRUE(rules.Admits(Address("192.0.2.1"), std::string("good.example.net")));
  EXPECT_FALSE(rules.Admits(Address("192.0.2.1"), std::string("bad.example.net")));
  EXPECT_FALSE(rules.Admits(Address("192.0.2.1"), std::nullopt));
}

TEST(AccessRules, V4MappedPeerMatchesV4Regex) {
  AccessRules rules;
  rules.allow.push_back(Pattern("127\\.0\\.0\\.1"));
  EXPECT_TRUE(rules.Admits(Address("::ffff:127.0.0.1"), std::nullopt));
}

TEST(AccessRules, UnixPeersAreNotChecked) {
  AccessRules rules;
  rules.deny.push_back(Pattern(".*"));
  SocketAddress unix_peer;
  unix_peer.storage.ss_family = AF_UNIX;
  unix_peer.length = sizeof(sa_family_t);
  EXPECT_TRUE(rules.Admits(unix_peer, std::nullopt));
}

TEST(AccessRules, BadRegexIsAnError) {
  AddressPattern pattern;
  std::string error;
  EXPECT_FALSE(ParseAddressPattern("(127", &pattern, &error));
  EXPECT_EQ(error, "\"(127\" is not a valid regular expression (missing ): (127)");
}

TEST(AccessRules, PatternsMatchTheWholeString) {
  // Net::Server's /^rule$/: neither a prefix nor a suffix is enough.
  AddressPattern pattern = Pattern("host\\.example\\.org");
  EXPECT_TRUE(pattern.Matches("host.example.org"));
  EXPECT_FALSE(pattern.Matches("host.example.org.evil.net"));
  EXPECT_FALSE(pattern.Matches("evilhost.example.org"));
  EXPECT_TRUE(Pattern("a|b").Matches("b"));  // alternation inside the anchors
  EXPECT_FALSE(Pattern("a|b").Matches("ab"));
}

TEST(AccessRules, PerlOnlySyntaxIsRefusedWithRe2sMessage) {
  // RE2 has no backreferences and no lookaround: refused when the config loads,
  // never silently read as something else.
  AddressPattern pattern;
  std::string error;
  EXPECT_FALSE(ParseAddressPattern("(a)\\1", &pattern, &error));
  EXPECT_EQ(error, "\"(a)\\1\" is not a valid regular expression (invalid escape sequence: \\1)");
  EXPECT_FALSE(ParseAddressPattern("(?!bad).*", &pattern, &error));
  EXPECT_NE(error.find("is not a valid regular expression (invalid perl operator: (?!)"),
            std::string::npos)
      << error;
}

TEST(AccessRules, NestedQuantifiersDoNotBacktrack) {
  // (a+)+b backtracks exponentially in std::regex; RE2 answers in linear time.
  // A 253-byte host name of a's would not finish in a backtracking engine.
  AccessRules rules;
  rules.deny.push_back(Pattern("(a+)+b"));
  rules.allow.push_back(Pattern(".*"));
  std::string name(253, 'a');
  EXPECT_TRUE(rules.Admits(Address("192.0.2.1"), name));
  EXPECT_FALSE(rules.Admits(Address("192.0.2.1"), name + "b"));
}

TEST(AccessRules, RegexRulesAreTheOnesThatNeedANameOrAFailure) {
  AccessRules rules;
  rules.cidr_allow.push_back(Cidr("10.0.0.0/8"));
  EXPECT_FALSE(rules.HasRegexRules());
  rules.deny.push_back(Pattern("bad\\.example\\.org"));
  EXPECT_TRUE(rules.HasRegexRules());
}

}  // namespace
}  // namespace gatehouse
