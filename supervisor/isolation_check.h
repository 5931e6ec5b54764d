// Whether this kernel and these privileges give each service its own PID, mount
// and network namespaces (the isolation described in docs/architecture.md).
// Checked once at start by trying it in a short-lived process.
#pragma once

#include <string>

namespace gatehouse {

// True when available; otherwise false with the reason ("gatehouse is not root").
bool ServiceNamespacesAvailable(std::string* why_not);

}  // namespace gatehouse
