// The processes below the supervisor. As the child subreaper it inherits every
// program whose gatehouse-child died first; on shutdown those orphans must end
// too, so the supervisor finds its children in /proc, not only in its tables.
#pragma once

#include <sys/types.h>

#include <set>
#include <vector>

namespace gatehouse {

// Pids whose parent is this process (read from /proc/PID/stat).
std::vector<pid_t> OwnChildren();

// Sends `signal` to every child of ours not in `spare`, and to its process group
// (programs lead their own session, so the group holds what they started).
// Returns how many children there were.
size_t SignalOwnChildren(int signal, const std::set<pid_t>& spare);

}  // namespace gatehouse
