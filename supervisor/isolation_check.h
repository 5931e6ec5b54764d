// Whether this kernel and these privileges give each service its own PID, mount
// and network namespaces (the isolation described in docs/architecture.md).
// Checked on first use by trying it in a short-lived process; remembered after.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace gatehouse {

// True when available; otherwise false with the reason ("gatehouse is not root").
bool ServiceNamespacesAvailable(std::string* why_not);

// What --check and the start-up log say about it.
std::string DescribeIsolation(bool available, const std::string& why_not);

// private_network needs the namespaces: one error per service that asks for it
// when they are not available.
void CheckPrivateNetwork(const Config& config, bool available, const std::string& why_not,
                         std::vector<std::string>* errors);

}  // namespace gatehouse
