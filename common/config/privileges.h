// capabilities = and no_new_privs =: what a service's programs keep of root's
// power (systemd's CapabilityBoundingSet/AmbientCapabilities, NoNewPrivileges),
// and the warnings --check gives for it.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"

namespace gatehouse {

// "CAP_NET_BIND_SERVICE CAP_SETUID ..." (names as libcap knows them, any case,
// separated by spaces or commas), "all" or "none", as a mask of capability bits.
bool ParseCapabilities(const std::string& value, uint64_t* mask, std::string* error);

// The mask as the key would say it: "none", "all" or the names.
std::string CapabilitiesText(uint64_t mask);

// One warning per service that keeps privileges (capabilities, no_new_privs =
// no) or runs as root: it keeps the power to break the isolation between services.
void WarnPrivileges(Config* config);

}  // namespace gatehouse
