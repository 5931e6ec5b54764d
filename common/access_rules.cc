#include "common/access_rules.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <re2/re2.h>

#include <cstring>

namespace gatehouse {
namespace {

// The peer's address bytes, with a v4-mapped v6 address turned into plain v4.
bool PeerBytes(const SocketAddress& address, int* family, uint8_t bytes[16]) {
  if (address.family() == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&address.storage);
    *family = AF_INET;
    std::memcpy(bytes, &in->sin_addr, 4);
    return true;
  }
  if (address.family() == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      *family = AF_INET;
      std::memcpy(bytes, &in6->sin6_addr.s6_addr[12], 4);
    } else {
      *family = AF_INET6;
      std::memcpy(bytes, &in6->sin6_addr, 16);
    }
    return true;
  }
  return false;
}

bool MatchesAny(const std::vector<AddressPattern>& patterns, const std::string& ip,
                const std::optional<std::string>& host) {
  for (const AddressPattern& pattern : patterns) {
    if (host && pattern.Matches(*host)) return true;
    if (pattern.Matches(ip)) return true;
  }
  return false;
}

bool ContainedInAny(const std::vector<CidrBlock>& blocks, const SocketAddress& peer) {
  for (const CidrBlock& block : blocks) {
    if (block.Contains(peer)) return true;
  }
  return false;
}

}  // namespace

bool CidrBlock::Contains(const SocketAddress& address) const {
  int peer_family = 0;
  uint8_t peer[16] = {};
  if (!PeerBytes(address, &peer_family, peer) || peer_family != family) return false;
  int full_bytes = prefix / 8;
  if (std::memcmp(peer, bytes, full_bytes) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (peer[full_bytes] & mask) == (bytes[full_bytes] & mask);
}

bool ParseCidr(const std::string& text, CidrBlock* block, std::string* error) {
  *block = CidrBlock{};
  block->text = text;
  size_t slash = text.find('/');
  std::string address = text.substr(0, slash);
  if (inet_pton(AF_INET, address.c_str(), block->bytes) == 1) {
    block->family = AF_INET;
  } else if (inet_pton(AF_INET6, address.c_str(), block->bytes) == 1) {
    block->family = AF_INET6;
  } else {
    *error = "\"" + text + "\" is not a CIDR block (address/prefix)";
    return false;
  }
  int max_prefix = block->family == AF_INET ? 32 : 128;
  block->prefix = max_prefix;
  if (slash != std::string::npos) {
    std::string prefix = text.substr(slash + 1);
    bool digits = !prefix.empty() && prefix.size() <= 3 &&
                  prefix.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoi(prefix) > max_prefix) {
      *error = "\"" + text + "\" has a bad prefix length (0-" + std::to_string(max_prefix) + ")";
      return false;
    }
    block->prefix = std::stoi(prefix);
  }
  // Peers arrive with v4-mapped addresses turned into v4, so store such blocks as v4.
  in6_addr v6{};
  std::memcpy(&v6, block->bytes, 16);
  if (block->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&v6) && block->prefix >= 96) {
    block->family = AF_INET;
    std::memmove(block->bytes, block->bytes + 12, 4);
    std::memset(block->bytes + 4, 0, 12);
    block->prefix -= 96;
  }
  return true;
}

bool AddressPattern::Matches(const std::string& subject) const {
  return RE2::FullMatch(subject, *regex);
}

bool ParseAddressPattern(const std::string& text, AddressPattern* pattern, std::string* error) {
  RE2::Options options;
  options.set_log_errors(false);  // the error goes into the config message instead
  auto regex = std::make_shared<const RE2>(text, options);
  if (!regex->ok()) {
    *error = "\"" + text + "\" is not a valid regular expression (" + regex->error() + ")";
    return false;
  }
  pattern->text = text;
  pattern->regex = std::move(regex);
  return true;
}

bool AccessRules::Admits(const SocketAddress& peer, const std::optional<std::string>& host) const {
  if (peer.family() == AF_UNIX) return true;
  if (Empty()) return true;
  std::string ip = peer.Ip();
  if (MatchesAny(deny, ip, host)) return false;
  if (ContainedInAny(cidr_deny, peer)) return false;
  if (MatchesAny(allow, ip, host)) return true;
  if (ContainedInAny(cidr_allow, peer)) return true;
  return false;
}

}  // namespace gatehouse
