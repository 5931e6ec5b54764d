// The PROXY header parser against the byte layouts of HAProxy's proxy-protocol.txt:
// v1 TCP4/TCP6/UNKNOWN lines, v2 with IPv4, IPv6, LOCAL, TLVs and bogus lengths,
// every prefix of a header (a header split across writes), and the size bounds.
#include "common/proxy_header.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace gatehouse {
namespace {

using Bytes = std::vector<uint8_t>;
using namespace std::string_literals;

constexpr ProxyVersions kAny{true, true};
constexpr ProxyVersions kOnlyV1{true, false};
constexpr ProxyVersions kOnlyV2{false, true};

Bytes FromText(const std::string& text) { return Bytes(text.begin(), text.end()); }

ProxyHeader Parse(const Bytes& bytes, ProxyVersions accepted = kAny) {
  return ParseProxyHeader(bytes.data(), bytes.size(), accepted);
}

ProxyHeader Parse(const std::string& text, ProxyVersions accepted = kAny) {
  return Parse(FromText(text), accepted);
}

// A v2 header: the spec's 12-byte signature, version/command, family/transport,
// then the big-endian length of `block`, then `block`.
Bytes V2(uint8_t version_command, uint8_t family, const Bytes& block) {
  Bytes bytes = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
  bytes.push_back(version_command);
  bytes.push_back(family);
  bytes.push_back(static_cast<uint8_t>(block.size() >> 8));
  bytes.push_back(static_cast<uint8_t>(block.size() & 0xFF));
  bytes.insert(bytes.end(), block.begin(), block.end());
  return bytes;
}

// 192.168.0.1:56324 -> 192.168.0.11:443 as the v2 IPv4 block lays it out.
const Bytes kInet4Block = {192, 168, 0, 1, 192, 168, 0, 11, 0xDC, 0x04, 0x01, 0xBB};

Bytes Tlv(uint8_t type, const std::string& value) {
  Bytes bytes = {type, static_cast<uint8_t>(value.size() >> 8),
                 static_cast<uint8_t>(value.size() & 0xFF)};
  bytes.insert(bytes.end(), value.begin(), value.end());
  return bytes;
}

Bytes Concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void ExpectEveryPrefixNeedsMore(const Bytes& header, ProxyVersions accepted = kAny) {
  for (size_t size = 0; size < header.size(); ++size) {
    ProxyHeader parsed = ParseProxyHeader(header.data(), size, accepted);
    EXPECT_EQ(parsed.outcome, ProxyHeader::kNeedMore)
        << "prefix of " << size << " bytes: " << parsed.reason;
  }
}

// --- version 1 ---

TEST(ProxyHeaderV1, Tcp4GivesBothEndsAndLeavesTheDataAfterIt) {
  std::string line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
  ProxyHeader header = Parse(line + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_EQ(header.version, 1);
  EXPECT_EQ(header.length, line.size());
  EXPECT_TRUE(header.has_addresses);
  EXPECT_EQ(header.source.ToString(), "192.168.0.1:56324");
  EXPECT_EQ(header.destination.ToString(), "192.168.0.11:443");
}

TEST(ProxyHeaderV1, Tcp6) {
  ProxyHeader header = Parse("PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n");
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_EQ(header.source.ToString(), "[2001:db8::1]:4000");
  EXPECT_EQ(header.destination.ToString(), "[2001:db8::2]:80");
}

// The spec's worst case for TCP6 (104 bytes) and for UNKNOWN (107 bytes).
TEST(ProxyHeaderV1, LongestLinesOfTheSpec) {
  std::string ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  std::string tcp6 = "PROXY TCP6 " + ffff + " " + ffff + " 65535 65535\r\n";
  ASSERT_EQ(tcp6.size(), 104u);
  ProxyHeader header = Parse(tcp6);
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_EQ(header.source.Port(), 65535);

  std::string unknown = "PROXY UNKNOWN " + ffff + " " + ffff + " 65535 65535\r\n";
  ASSERT_EQ(unknown.size(), 107u);
  header = Parse(unknown);
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_EQ(header.length, 107u);
  EXPECT_FALSE(header.has_addresses);
}

TEST(ProxyHeaderV1, UnknownKeepsTheConnectionsOwnAddresses) {
  ProxyHeader header = Parse("PROXY UNKNOWN\r\nhello");
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_EQ(header.length, 15u);
  EXPECT_FALSE(header.has_addresses);
}

TEST(ProxyHeaderV1, EveryPrefixNeedsMore) {
  ExpectEveryPrefixNeedsMore(FromText("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"));
  ExpectEveryPrefixNeedsMore(FromText("PROXY UNKNOWN\r\n"), kOnlyV1);
}

TEST(ProxyHeaderV1, NoLineEndWithin107BytesIsInvalid) {
  std::string long_line = "PROXY UNKNOWN " + std::string(92, 'x');
  ASSERT_EQ(long_line.size(), 106u);
  EXPECT_EQ(Parse(long_line).outcome, ProxyHeader::kNeedMore);
  EXPECT_EQ(Parse(long_line + "x").outcome, ProxyHeader::kInvalid);
  // The CRLF one byte too late: the line would be 108 bytes.
  EXPECT_EQ(Parse(long_line + "x\r\n").outcome, ProxyHeader::kInvalid);
}

TEST(ProxyHeaderV1, MalformedLinesAreInvalid) {
  for (const char* line : {
           "PROXY TCP4 1.2.3.4 5.6.7.8 80 65536\r\n",   // port out of range
           "PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n",     // leading zero
           "PROXY TCP4 1.2.3.4 5.6.7.8 -1 80\r\n",      // sign
           "PROXY TCP4  1.2.3.4 5.6.7.8 80 80\r\n",     // two spaces
           "PROXY TCP4 1.2.3.4 5.6.7.8 80 80 \r\n",     // trailing space
           "PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n",         // a port missing
           "PROXY TCP4 2001:db8::1 5.6.7.8 80 80\r\n",  // IPv6 under TCP4
           "PROXY TCP6 1.2.3.4 2001:db8::2 80 80\r\n",  // IPv4 under TCP6
           "PROXY TCP4 1.2.3.256 5.6.7.8 80 80\r\n",    // not an address
           "PROXY TCP5 1.2.3.4 5.6.7.8 80 80\r\n",      // unknown protocol
           "PROXY TCP4 1.2.3.4 5.6.7.8 80 80\n",        // LF without CR
           "PROXY\r\n",                                 // no protocol
           "GET / HTTP/1.1\r\n",                        // not a header at all
       }) {
    ProxyHeader header = Parse(line);
    EXPECT_EQ(header.outcome, ProxyHeader::kInvalid) << line;
    EXPECT_FALSE(header.reason.empty()) << line;
  }
}

// The case: a NUL ended the address for inet_pton and the garbage after
// it was ignored. No byte outside the grammar may appear anywhere in the line.
TEST(ProxyHeaderV1, NoByteOutsideTheGrammarAnywhere) {
  for (const std::string& line : {
           "PROXY TCP4 10.1.2.3\0garbage 10.0.0.1 40001 443\r\n"s,
           "PROXY TCP4 10.1.2.3 10.0.0.1 40001 443\0\r\n"s,
           "PROXY TCP4 10.1.2.3 10.0.0.1 40001\0 443\r\n"s,
           "PROXY TCP6 2001:db8::1\0x 2001:db8::2 1 2\r\n"s,
           "PROXY TCP4 10.1.2.3\t10.0.0.1 40001 443\r\n"s,
           "PROXY TCP4 10.1.2.3 10.0.0.1 40001 443\r\r\n"s,
           "PROXY TCP4 10.1.2.3 10.0.0.1 +4001 443\r\n"s,
           "PROXY TCP4 10.1.2.3 10.0.0.1 40001 443\x7f\r\n"s,
           "PROXY TCP4 10.1.2.3 10.0.0.1 40001 \xc3\xa9\r\n"s,
           "PROXY TCP4 010.1.2.3 10.0.0.1 40001 443\r\n"s,
           "PROXY TCP4 10.1.2 10.0.0.1 40001 443\r\n"s,
           "PROXY TCP6 2001:db8::1%lo 2001:db8::2 1 2\r\n"s,
           "PROXY tcp4 10.1.2.3 10.0.0.1 40001 443\r\n"s,
           "PROXY TCP4\r\n"s,
           "PROXY UNKNOWNX\r\n"s,
           "PROXY UNKNOWN\0\r\n"s,
           "PROXY UNKNOWN 1.2.3.4\0 5.6.7.8 1 2\r\n"s,
           "PROXY UNKNOWN\t\r\n"s,
       }) {
    ProxyHeader header = Parse(line);
    EXPECT_EQ(header.outcome, ProxyHeader::kInvalid) << ::testing::PrintToString(line);
    EXPECT_FALSE(header.reason.empty()) << ::testing::PrintToString(line);
  }
  EXPECT_EQ(Parse("PROXY TCP4 10.1.2.3\0garbage 10.0.0.1 40001 443\r\n"s).reason,
            "v1 TCP4 line has a byte no address or port has");
  // What the spec allows after UNKNOWN: nothing, or a space and the addresses.
  EXPECT_EQ(Parse("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n").outcome, ProxyHeader::kParsed);
  EXPECT_EQ(Parse("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n").outcome, ProxyHeader::kParsed);
}

// IPv4-compatible IPv6 addresses (::a.b.c.d, deprecated) are refused in both
// versions: judged as IPv6 they would pass cidr_deny = 10.66.0.0/16 under
// cidr_allow = ::/0. v4-mapped addresses stay (the access rules judge them as IPv4).
TEST(ProxyHeaderV1, Ipv4CompatibleAddressesAreRefusedAndMappedOnesKept) {
  for (const char* line : {"PROXY TCP6 ::10.66.1.1 2001:db8::2 4000 80\r\n",
                           "PROXY TCP6 2001:db8::2 ::10.66.1.1 4000 80\r\n",
                           "PROXY TCP6 ::a42:101 2001:db8::2 4000 80\r\n",
                           "PROXY TCP6 ::0.0.0.2 2001:db8::2 4000 80\r\n"}) {
    ProxyHeader header = Parse(line);
    EXPECT_EQ(header.outcome, ProxyHeader::kInvalid) << line;
    EXPECT_NE(header.reason.find("IPv4-compatible"), std::string::npos) << header.reason;
  }
  ProxyHeader mapped = Parse("PROXY TCP6 ::ffff:10.66.1.1 2001:db8::2 4000 80\r\n");
  ASSERT_EQ(mapped.outcome, ProxyHeader::kParsed) << mapped.reason;
  EXPECT_EQ(mapped.source.Ip(), "10.66.1.1");
  // :: and ::1 are not IPv4 addresses.
  EXPECT_EQ(Parse("PROXY TCP6 ::1 :: 4000 80\r\n").outcome, ProxyHeader::kParsed);
}

TEST(ProxyHeaderV2, Ipv4CompatibleAddressesAreRefused) {
  Bytes block(36, 0);
  block[12] = 10, block[13] = 66, block[14] = 1, block[15] = 1;  // ::10.66.1.1
  block[31] = 1;                                                 // ::1
  ProxyHeader header = Parse(V2(0x21, 0x21, block));
  EXPECT_EQ(header.outcome, ProxyHeader::kInvalid);
  EXPECT_NE(header.reason.find("IPv4-compatible"), std::string::npos) << header.reason;
  block[10] = 0xFF, block[11] = 0xFF;  // ::ffff:10.66.1.1
  header = Parse(V2(0x21, 0x21, block));
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_EQ(header.source.Ip(), "10.66.1.1");
}

TEST(ProxyHeaderV1, GarbageIsRefusedAtItsFirstByte) {
  EXPECT_EQ(Parse("G").outcome, ProxyHeader::kInvalid);
  EXPECT_EQ(Parse("PROXX").outcome, ProxyHeader::kInvalid);
}

TEST(ProxyHeaderV1, RefusedWhereOnlyV2IsAccepted) {
  ProxyHeader header = Parse("PROXY TCP4 1.2.3.4 5.6.7.8 80 80\r\n", kOnlyV2);
  EXPECT_EQ(header.outcome, ProxyHeader::kInvalid);
  EXPECT_EQ(Parse("PROX", kOnlyV2).outcome, ProxyHeader::kInvalid);
}

// --- version 2 ---

TEST(ProxyHeaderV2, Inet4) {
  Bytes header_bytes = V2(0x21, 0x11, kInet4Block);
  ASSERT_EQ(header_bytes.size(), 28u);
  ProxyHeader header = Parse(Concat(header_bytes, FromText("program data")));
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_EQ(header.version, 2);
  EXPECT_EQ(header.length, 28u);
  EXPECT_TRUE(header.has_addresses);
  EXPECT_EQ(header.source.ToString(), "192.168.0.1:56324");
  EXPECT_EQ(header.destination.ToString(), "192.168.0.11:443");
}

TEST(ProxyHeaderV2, Inet6) {
  Bytes block(36, 0);
  block[0] = 0x20, block[1] = 0x01, block[2] = 0x0d, block[3] = 0xb8, block[15] = 1;
  block[16] = 0x20, block[17] = 0x01, block[18] = 0x0d, block[19] = 0xb8, block[31] = 2;
  block[32] = 0x0F, block[33] = 0xA0;  // 4000
  block[34] = 0x00, block[35] = 0x50;  // 80
  ProxyHeader header = Parse(V2(0x21, 0x21, block));
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_EQ(header.length, 52u);
  EXPECT_EQ(header.source.ToString(), "[2001:db8::1]:4000");
  EXPECT_EQ(header.destination.ToString(), "[2001:db8::2]:80");
}

TEST(ProxyHeaderV2, TlvsAreSkipped) {
  Bytes block = Concat(kInet4Block, Tlv(0x01, "h2"));                // PP2_TYPE_ALPN
  block = Concat(block, Tlv(0x02, "example.com"));                   // PP2_TYPE_AUTHORITY
  block = Concat(block, Tlv(0x04, std::string(7, '\0')));            // PP2_TYPE_NOOP
  block = Concat(block, Tlv(0x20, std::string("\x01\0\0\0\0", 5)));  // PP2_TYPE_SSL
  Bytes header_bytes = V2(0x21, 0x11, block);
  ProxyHeader header = Parse(Concat(header_bytes, FromText("after")));
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_EQ(header.length, header_bytes.size());
  EXPECT_EQ(header.source.ToString(), "192.168.0.1:56324");
  ExpectEveryPrefixNeedsMore(header_bytes);
}

TEST(ProxyHeaderV2, LocalKeepsTheConnectionsOwnAddresses) {
  ProxyHeader header = Parse(V2(0x20, 0x00, {}));
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_EQ(header.length, 16u);
  EXPECT_FALSE(header.has_addresses);
  // LOCAL with an address block: the block is ignored, but its bytes are the header's.
  header = Parse(V2(0x20, 0x11, kInet4Block));
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_EQ(header.length, 28u);
  EXPECT_FALSE(header.has_addresses);
}

TEST(ProxyHeaderV2, UnspecUnixAndDatagramFallBackToTheConnection) {
  ProxyHeader header = Parse(V2(0x21, 0x00, {}));
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_FALSE(header.has_addresses);
  header = Parse(V2(0x21, 0x31, Bytes(216, 'p')));
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_FALSE(header.has_addresses);
  header = Parse(V2(0x21, 0x12, kInet4Block));
  ASSERT_EQ(header.outcome, ProxyHeader::kParsed) << header.reason;
  EXPECT_FALSE(header.has_addresses);
}

TEST(ProxyHeaderV2, BogusLengthsAreInvalid) {
  // Over gatehouse's bound: refused from the 16 fixed bytes alone.
  Bytes over = V2(0x21, 0x11, kInet4Block);
  over[14] = 0x10, over[15] = 0x01;  // 4097
  over.resize(16);
  EXPECT_EQ(Parse(over).outcome, ProxyHeader::kInvalid);
  Bytes max = V2(0x21, 0x11, Concat(kInet4Block, Tlv(0x04, std::string(4096 - 12 - 3, '\0'))));
  EXPECT_EQ(Parse(max).outcome, ProxyHeader::kParsed);
  EXPECT_EQ(Parse(max).length, kProxyHeaderMaxBytes);
  // Shorter than the addresses the family promises.
  EXPECT_EQ(Parse(V2(0x21, 0x11, Bytes(8, 1))).outcome, ProxyHeader::kInvalid);
  EXPECT_EQ(Parse(V2(0x21, 0x21, Bytes(12, 1))).outcome, ProxyHeader::kInvalid);
  EXPECT_EQ(Parse(V2(0x21, 0x31, Bytes(36, 1))).outcome, ProxyHeader::kInvalid);
  // A TLV longer than what is left, and a TLV header cut short.
  Bytes overrun = Concat(kInet4Block, {0x01, 0x00, 0x0A, 'h', '2'});
  EXPECT_EQ(Parse(V2(0x21, 0x11, overrun)).outcome, ProxyHeader::kInvalid);
  Bytes cut = Concat(kInet4Block, {0x01, 0x00});
  EXPECT_EQ(Parse(V2(0x21, 0x11, cut)).outcome, ProxyHeader::kInvalid);
}

TEST(ProxyHeaderV2, BadVersionCommandOrFamilyIsInvalid) {
  EXPECT_EQ(Parse(V2(0x11, 0x11, kInet4Block)).outcome, ProxyHeader::kInvalid);  // version 1
  EXPECT_EQ(Parse(V2(0x22, 0x11, kInet4Block)).outcome, ProxyHeader::kInvalid);  // command 2
  EXPECT_EQ(Parse(V2(0x21, 0x41, kInet4Block)).outcome, ProxyHeader::kInvalid);  // family 4
  EXPECT_EQ(Parse(V2(0x21, 0x13, kInet4Block)).outcome, ProxyHeader::kInvalid);  // transport 3
  EXPECT_EQ(Parse(V2(0x21, 0x01, kInet4Block)).outcome, ProxyHeader::kInvalid);  // UNSPEC+STREAM
  // Found as soon as the byte arrives, without waiting for the length.
  Bytes early = V2(0x31, 0x11, kInet4Block);
  early.resize(13);
  EXPECT_EQ(Parse(early).outcome, ProxyHeader::kInvalid);
}

TEST(ProxyHeaderV2, RefusedWhereOnlyV1IsAccepted) {
  EXPECT_EQ(Parse(V2(0x21, 0x11, kInet4Block), kOnlyV1).outcome, ProxyHeader::kInvalid);
}

TEST(ProxyHeaderV2, EveryPrefixNeedsMore) {
  ExpectEveryPrefixNeedsMore(V2(0x21, 0x11, kInet4Block));
}

// Whatever the bytes, a buffer at the bound gets a verdict: the reader never
// waits for more than kProxyHeaderMaxBytes (v2) or kProxyV1MaxBytes (v1).
TEST(ProxyHeaderBounds, NoNeedForMoreAtTheBound) {
  std::mt19937 random(8);
  Bytes v2_start = V2(0x21, 0x11, {});
  for (int round = 0; round < 2000; ++round) {
    Bytes bytes(kProxyHeaderMaxBytes);
    for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(random());
    std::copy(v2_start.begin(), v2_start.begin() + 12 + round % 5, bytes.begin());
    EXPECT_NE(Parse(bytes).outcome, ProxyHeader::kNeedMore);
    std::string v1 = "PROXY ";
    std::copy(v1.begin(), v1.end(), bytes.begin());
    for (size_t i = 6; i < kProxyV1MaxBytes; ++i) {
      if (bytes[i] == '\n') bytes[i] = ' ';
    }
    ProxyHeader header = ParseProxyHeader(bytes.data(), kProxyV1MaxBytes, kAny);
    EXPECT_EQ(header.outcome, ProxyHeader::kInvalid);
  }
}

}  // namespace
}  // namespace gatehouse
