// Process fds (pidfd_open, Linux 5.3): a reference to one process that stays
// valid when its pid is reused, and that names the process in the reader's own
// PID namespace. The child passes one with every program it reports; the
// supervisor reads the pid as it sees it, whatever the child's namespace says.
#pragma once

#include <sys/types.h>

#include "common/unique_fd.h"

namespace gatehouse {

// An fd for `pid` (close-on-exec); empty with errno set on failure.
UniqueFd OpenPidfd(pid_t pid);

// The pid of a pidfd's process in our namespace (from /proc/self/fdinfo): 0 when
// it has ended or cannot be read now (we are out of fds), -1 when `fd` is not a
// pidfd.
pid_t PidOfPidfd(int fd);

}  // namespace gatehouse
