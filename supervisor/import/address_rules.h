// xinetd's only_from / no_access entries in gatehouse's terms.
#pragma once

#include <string>
#include <vector>

namespace gatehouse {

struct ImportedAddressRule {
  std::string key;    // cidr_allow or allow (for only_from); cidr_deny or deny (no_access)
  std::string value;  // an address block, or a regex on the peer's host name
};

// One entry: an address, a block (a.b.c.d/n), xinetd's trailing-zero wildcard
// (10.1.0.0 is 10.1.0.0/16), a factorized address (10.0.{1,2}), a host name or a
// .domain. False (with `error`) for an entry that fits none.
bool ConvertAddressEntry(const std::string& entry, bool deny,
                         std::vector<ImportedAddressRule>* rules, std::string* error);

}  // namespace gatehouse
