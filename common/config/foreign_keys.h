// Keys of the tools people come from (xinetd, inetd's tcpd, tcpserver's habits)
// that gatehouse does not know: what to write instead, so that a pasted xinetd
// line gets a way forward rather than a bare "unknown key".
#pragma once

#include <string>

namespace gatehouse {

// The hint for `key` given `value` (some depend on it: wait = yes, type =
// INTERNAL); empty when the key is nobody's.
std::string ForeignKeyHint(const std::string& key, const std::string& value);

}  // namespace gatehouse
