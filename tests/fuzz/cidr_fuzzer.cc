// cidr_allow/cidr_deny blocks and allow/deny regexes (common/access_rules.h).
// Input: a mode byte, then the text. Mode even: ParseCidr; a block that parses
// contains its own first address (see below), re-parses the same, and stays in bounds.
// Mode odd: ParseAddressPattern on the first line, matched against the rest.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/access_rules.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// The block's own network address (its bytes as stored) as a peer.
gatehouse::SocketAddress FirstAddress(const gatehouse::CidrBlock& block) {
  gatehouse::SocketAddress address;
  if (block.family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&address.storage);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, block.bytes, 4);
    address.length = sizeof *in;
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, block.bytes, 16);
    address.length = sizeof *in6;
  }
  return address;
}

void FuzzCidr(const std::string& text) {
  gatehouse::CidrBlock block;
  std::string error;
  if (!gatehouse::ParseCidr(text, &block, &error)) {
    FUZZ_CHECK(!error.empty());
    return;
  }
  FUZZ_CHECK(block.family == AF_INET || block.family == AF_INET6);
  FUZZ_CHECK(block.prefix >= 0 && block.prefix <= (block.family == AF_INET ? 32 : 128));
  // Peers arrive with v4-mapped addresses as v4, so a v6 block shorter than /96
  // whose first address is v4-mapped (::ffff:0:0/95) rightly does not hold it.
  in6_addr first{};
  std::memcpy(&first, block.bytes, sizeof first);
  if (block.family == AF_INET || !IN6_IS_ADDR_V4MAPPED(&first)) {
    FUZZ_CHECK(block.Contains(FirstAddress(block)));
  }
  gatehouse::CidrBlock again;
  FUZZ_CHECK(gatehouse::ParseCidr(block.text, &again, &error));
  FUZZ_CHECK(again.family == block.family && again.prefix == block.prefix &&
             std::memcmp(again.bytes, block.bytes, sizeof block.bytes) == 0);
}

void FuzzPattern(const std::string& input) {
  size_t newline = input.find('\n');
  std::string text = input.substr(0, newline);
  std::string subject = newline == std::string::npos ? "" : input.substr(newline + 1);
  gatehouse::AddressPattern pattern;
  std::string error;
  if (!gatehouse::ParseAddressPattern(text, &pattern, &error)) {
    FUZZ_CHECK(!error.empty());
    return;
  }
  pattern.Matches(subject);
  pattern.Matches("127.0.0.1");
  pattern.Matches("::1");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    FuzzCidr(text);
  } else {
    FuzzPattern(text);
  }
  return 0;
}
