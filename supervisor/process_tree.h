// The processes below the supervisor. As the child subreaper it inherits every
// program whose gatehouse-child died first; on shutdown those orphans must end
// too, so the supervisor finds its children in /proc, not only in its tables.
#pragma once

#include <sys/types.h>

#include <set>
#include <unordered_map>
#include <vector>

namespace gatehouse {

// The parent of `pid` as /proc/PID/status says ("PPid:"); 0 when that cannot be
// read: there is no such process (any more), or we are out of fds. (C stdio, not
// iostreams: libstdc++ throws from a read that fails as the process vanishes.)
pid_t ParentOf(pid_t pid);

// Pids whose parent is this process.
std::vector<pid_t> OwnChildren();

// Sends `signal` to every child of ours not in `spare`, and to its process group
// (programs lead their own session, so the group holds what they started).
// Returns how many children there were.
size_t SignalOwnChildren(int signal, const std::set<pid_t>& spare);

// One look at every process's parent in /proc, for USR1's process counts.
class ProcessCensus {
 public:
  static ProcessCensus Take();
  // How many processes descend from `root` (itself not counted). A service's
  // programs descend from its child's serving process: in a PID namespace
  // whatever they leave behind is re-parented to that init, so all of the
  // namespace but the init is counted.
  size_t DescendantsOf(pid_t root) const;

 private:
  std::unordered_map<pid_t, std::vector<pid_t>> children_;
};

}  // namespace gatehouse
