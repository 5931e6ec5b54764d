// The key table (keys.h) as text for people: `gatehouse --keys` and
// gatehouse.conf(5), which docs/gatehouse.conf.5 holds as generated here.
#pragma once

#include <string>

namespace gatehouse {

// One key a line: name, scope, default, meaning (and the values it takes).
std::string KeysText();

// gatehouse.conf(5) in troff (man(7) macros), as `gatehouse --keys=man` prints it.
std::string KeysManPage();

}  // namespace gatehouse
