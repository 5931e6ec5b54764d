// AccessRules: Net::Server's allow/deny (anchored regexes on the peer address, and
// on its host name with reverse_lookups) and cidr_allow/cidr_deny blocks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/socket_address.h"

namespace re2 {
class RE2;
}

namespace gatehouse {

// An address block: "10.0.0.0/8", "::1/128", or a bare address (a /32 or /128).
// A v4-mapped v6 block (::ffff:10.0.0.0/104) is stored as its v4 equivalent.
struct CidrBlock {
  int family = 0;  // AF_INET or AF_INET6
  uint8_t bytes[16] = {};
  int prefix = 0;
  std::string text;

  bool Contains(const SocketAddress& address) const;
};

bool ParseCidr(const std::string& text, CidrBlock* block, std::string* error);

// A regex as written in the config, matched against the whole string (Net::Server
// anchors it: /^$rule$/). RE2 syntax: it matches in time linear in the input, so a
// hostile PTR name cannot make the supervisor's loop backtrack.
struct AddressPattern {
  std::string text;
  std::shared_ptr<const re2::RE2> regex;  // shared: RE2 is not copyable

  bool Matches(const std::string& subject) const;
};

bool ParseAddressPattern(const std::string& text, AddressPattern* pattern, std::string* error);

struct AccessRules {
  std::vector<AddressPattern> allow;
  std::vector<AddressPattern> deny;
  std::vector<CidrBlock> cidr_allow;
  std::vector<CidrBlock> cidr_deny;

  bool Empty() const {
    return allow.empty() && deny.empty() && cidr_allow.empty() && cidr_deny.empty();
  }
  // True when deny rules exist but nothing could ever be allowed (Net::Server
  // then refuses every client); worth a warning.
  bool DeniesEveryone() const { return !Empty() && allow.empty() && cidr_allow.empty(); }
  // allow/deny regexes match host names too (with reverse_lookups), so a peer
  // whose lookup failed cannot be judged by them.
  bool HasRegexRules() const { return !allow.empty() || !deny.empty(); }

  // Net::Server's allow_deny(): no rules admits all; a deny or cidr_deny match
  // refuses; then an allow or cidr_allow match admits; anything else is refused.
  // UNIX-socket peers are not checked. `host` is the reverse-lookup name, if any.
  bool Admits(const SocketAddress& peer, const std::optional<std::string>& host) const;
};

}  // namespace gatehouse
