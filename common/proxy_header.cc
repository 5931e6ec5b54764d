#include "common/proxy_header.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <vector>

namespace gatehouse {
namespace {

constexpr char kV1Prefix[] = "PROXY ";
constexpr size_t kV1PrefixBytes = sizeof kV1Prefix - 1;
constexpr uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
// v2 address blocks: two IPv4 addresses and ports, two IPv6, two UNIX paths.
constexpr size_t kV2Inet4Bytes = 12;
constexpr size_t kV2Inet6Bytes = 36;
constexpr size_t kV2UnixBytes = 216;
constexpr size_t kV2TlvHeaderBytes = 3;
// A proxy names an IPv4 client as TCP4 (or v4-mapped ::ffff:a.b.c.d, judged as
// the IPv4 address); the deprecated IPv4-compatible form would let a header's
// IPv4 client be judged as an IPv6 one (past cidr_deny with cidr_allow = ::/0).
constexpr char kIpv4CompatibleRefused[] =
    "an IPv4-compatible IPv6 address (::a.b.c.d, deprecated by RFC 4291): a proxy names an IPv4 "
    "client as TCP4 or ::ffff:a.b.c.d";

ProxyHeader Invalid(int version, const std::string& reason) {
  ProxyHeader header;
  header.outcome = ProxyHeader::kInvalid;
  header.version = version;
  header.reason = reason;
  return header;
}

ProxyHeader NeedMore(int version) {
  ProxyHeader header;
  header.version = version;
  return header;
}

// ::a.b.c.d, other than :: and ::1 (which are not IPv4 addresses).
bool IsIpv4Compatible(const SocketAddress& address) {
  if (address.family() != AF_INET6) return false;
  const uint8_t* bytes = reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_addr.s6_addr;
  static const uint8_t kZeros[12] = {};
  return std::memcmp(bytes, kZeros, 12) == 0 &&
         (bytes[12] != 0 || bytes[13] != 0 || bytes[14] != 0 || bytes[15] > 1);
}

// True when the first `size` bytes agree with `expected` (as far as both go).
bool StartsLike(const uint8_t* data, size_t size, const uint8_t* expected, size_t expected_size) {
  return std::memcmp(data, expected, size < expected_size ? size : expected_size) == 0;
}

uint16_t BigEndian16(const uint8_t* at) { return static_cast<uint16_t>(at[0] << 8 | at[1]); }

SocketAddress Inet4(const uint8_t* address, const uint8_t* port) {
  SocketAddress result;
  auto* in = reinterpret_cast<sockaddr_in*>(&result.storage);
  in->sin_family = AF_INET;
  std::memcpy(&in->sin_addr, address, 4);
  std::memcpy(&in->sin_port, port, 2);  // both in network order
  result.length = sizeof(sockaddr_in);
  return result;
}

SocketAddress Inet6(const uint8_t* address, const uint8_t* port) {
  SocketAddress result;
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&result.storage);
  in6->sin6_family = AF_INET6;
  std::memcpy(&in6->sin6_addr, address, 16);
  std::memcpy(&in6->sin6_port, port, 2);
  result.length = sizeof(sockaddr_in6);
  return result;
}

// --- version 1: "PROXY TCP4 SRC DST SPORT DPORT\r\n" ---

std::vector<std::string> SplitOnSpaces(const std::string& line) {
  std::vector<std::string> words;
  size_t start = 0;
  for (;;) {
    size_t space = line.find(' ', start);
    words.push_back(line.substr(start, space - start));
    if (space == std::string::npos) return words;
    start = space + 1;
  }
}

// The bytes the spec's grammar allows after "PROXY TCP4 " or "PROXY TCP6 ": the
// address and port characters and the single spaces between them. Checked over
// the whole line first, so no NUL or other byte can end a word early for
// inet_pton and leave garbage behind it.
bool OnlyAddressCharacters(const std::string& text, int family) {
  const char* allowed = family == AF_INET ? "0123456789. " : "0123456789abcdefABCDEF:. ";
  return text.find_first_not_of(allowed) == std::string::npos;
}

// UNKNOWN's ignored rest: printable US-ASCII only (what a proxy sends there is
// addresses), so no control byte hides in a header gatehouse accepts.
bool OnlyPrintable(const std::string& text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

// Decimal 0-65535 without sign or leading zeros, as the spec writes them.
bool ParseV1Port(const std::string& text, uint16_t* port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return false;
  *port = htons(static_cast<uint16_t>(value));
  return true;
}

bool ParseV1Address(int family, const std::string& ip, const std::string& port_text,
                    SocketAddress* address) {
  uint8_t bytes[16];
  uint16_t port = 0;
  if (inet_pton(family, ip.c_str(), bytes) != 1 || !ParseV1Port(port_text, &port)) return false;
  const auto* port_bytes = reinterpret_cast<const uint8_t*>(&port);
  *address = family == AF_INET ? Inet4(bytes, port_bytes) : Inet6(bytes, port_bytes);
  return true;
}

ProxyHeader ParseV1(const uint8_t* data, size_t size) {
  size_t scan = size < kProxyV1MaxBytes ? size : kProxyV1MaxBytes;
  const void* newline = std::memchr(data, '\n', scan);
  if (newline == nullptr) {
    if (size >= kProxyV1MaxBytes) return Invalid(1, "v1 header without CRLF in 107 bytes");
    return NeedMore(1);
  }
  size_t line_end = static_cast<const uint8_t*>(newline) - data;
  if (line_end == 0 || data[line_end - 1] != '\r') return Invalid(1, "v1 line ends without CRLF");
  std::string line(reinterpret_cast<const char*>(data), line_end - 1);

  ProxyHeader header;
  header.outcome = ProxyHeader::kParsed;
  header.version = 1;
  header.length = line_end + 1;
  // The spec: after UNKNOWN the receiver ignores everything up to the CRLF.
  constexpr char kUnknown[] = "PROXY UNKNOWN";
  if (line.compare(0, sizeof kUnknown - 1, kUnknown) == 0) {
    std::string rest = line.substr(sizeof kUnknown - 1);
    header.local = true;
    if (rest.empty() || (rest[0] == ' ' && OnlyPrintable(rest))) return header;
    return Invalid(1, "v1 UNKNOWN is not followed by CRLF or a space and printable text");
  }
  std::string protocol = line.substr(kV1PrefixBytes, 5);
  int family = protocol == "TCP4 " ? AF_INET : protocol == "TCP6 " ? AF_INET6 : AF_UNSPEC;
  if (family == AF_UNSPEC) return Invalid(1, "v1 protocol is not TCP4, TCP6 or UNKNOWN");
  protocol.pop_back();
  std::string rest = line.substr(kV1PrefixBytes + 5);
  if (!OnlyAddressCharacters(rest, family)) {
    return Invalid(1, "v1 " + protocol + " line has a byte no address or port has");
  }
  std::vector<std::string> words = SplitOnSpaces(rest);
  if (words.size() != 4)
    return Invalid(1, "v1 line is not PROXY " + protocol + " SRC DST SPORT DPORT");
  if (!ParseV1Address(family, words[0], words[2], &header.source) ||
      !ParseV1Address(family, words[1], words[3], &header.destination)) {
    return Invalid(1, "v1 address or port is not valid for " + protocol);
  }
  if (IsIpv4Compatible(header.source) || IsIpv4Compatible(header.destination)) {
    return Invalid(1, kIpv4CompatibleRefused);
  }
  header.has_addresses = true;
  return header;
}

// --- version 2: signature, version/command, family, length, addresses, TLVs ---

// TLVs (type, 16-bit length, value) must fill the rest exactly; their content
// is not used yet.
bool TlvsFit(const uint8_t* at, size_t size) {
  while (size > 0) {
    if (size < kV2TlvHeaderBytes) return false;
    size_t value_bytes = BigEndian16(at + 1);
    if (value_bytes > size - kV2TlvHeaderBytes) return false;
    at += kV2TlvHeaderBytes + value_bytes;
    size -= kV2TlvHeaderBytes + value_bytes;
  }
  return true;
}

// `data` starts like the signature (ParseProxyHeader checked).
ProxyHeader ParseV2(const uint8_t* data, size_t size) {
  if (size > 12) {
    if ((data[12] >> 4) != 2) return Invalid(2, "v2 version nibble is not 2");
    if ((data[12] & 0x0F) > 1) return Invalid(2, "v2 command is not LOCAL or PROXY");
  }
  if (size > 13) {
    switch (data[13]) {
      case 0x00:
      case 0x11:
      case 0x12:
      case 0x21:
      case 0x22:
      case 0x31:
      case 0x32:
        break;
      default:
        return Invalid(2, "v2 address family and transport byte is not a valid pair");
    }
  }
  if (size < kProxyV2FixedBytes) return NeedMore(2);
  size_t payload = BigEndian16(data + 14);
  if (payload > kProxyV2MaxPayload) {
    return Invalid(2, "v2 length " + std::to_string(payload) + " is over 4096");
  }
  if (size < kProxyV2FixedBytes + payload) return NeedMore(2);

  ProxyHeader header;
  header.outcome = ProxyHeader::kParsed;
  header.version = 2;
  header.length = kProxyV2FixedBytes + payload;
  const uint8_t* block = data + kProxyV2FixedBytes;
  bool local = (data[12] & 0x0F) == 0;
  if (local) {
    header.local = true;
    return header;  // a health check from the proxy itself: block ignored
  }

  uint8_t family = data[13] >> 4;
  size_t address_bytes = family == 1   ? kV2Inet4Bytes
                         : family == 2 ? kV2Inet6Bytes
                         : family == 3 ? kV2UnixBytes
                                       : 0;
  if (payload < address_bytes) {
    return Invalid(2, "v2 length " + std::to_string(payload) + " is short of its addresses");
  }
  if (data[13] == 0x11) {
    header.source = Inet4(block, block + 8);
    header.destination = Inet4(block + 4, block + 10);
  } else if (data[13] == 0x21) {
    header.source = Inet6(block, block + 32);
    header.destination = Inet6(block + 16, block + 34);
    if (IsIpv4Compatible(header.source) || IsIpv4Compatible(header.destination)) {
      return Invalid(2, kIpv4CompatibleRefused);
    }
  } else {
    return header;  // UNSPEC, datagram or UNIX: the spec's fallback to the real endpoints
  }
  if (!TlvsFit(block + address_bytes, payload - address_bytes)) {
    return Invalid(2, "v2 TLVs overrun the header's length");
  }
  header.has_addresses = true;
  return header;
}

}  // namespace

ProxyHeader ParseProxyHeader(const uint8_t* data, size_t size, ProxyVersions accepted) {
  if (size == 0) return NeedMore(0);
  bool looks_v1 =
      StartsLike(data, size, reinterpret_cast<const uint8_t*>(kV1Prefix), kV1PrefixBytes);
  bool looks_v2 = StartsLike(data, size, kV2Signature, sizeof kV2Signature);
  if (looks_v1) {
    if (!accepted.v1) return Invalid(1, "a v1 header, but proxy_protocol = v2");
    return size < kV1PrefixBytes ? NeedMore(1) : ParseV1(data, size);
  }
  if (looks_v2) {
    if (!accepted.v2) return Invalid(2, "a v2 header, but proxy_protocol = v1");
    return ParseV2(data, size);
  }
  return Invalid(0, "not a PROXY header");
}

}  // namespace gatehouse
