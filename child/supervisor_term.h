// SIGTERM for the serving child, taken only from the supervisor's side. Inside
// the service's PID namespace the child is init: the kernel already drops
// SIGKILL and SIGSTOP that its programs send it, but a signal it handles still
// arrives, and programs share its uid. So TERM is read from a signalfd, which
// names the sender: a sender outside the namespace (the holder, the supervisor)
// shows as pid 0, and without a namespace the supervisor is our parent.
#pragma once

#include <cstdint>

#include "common/unique_fd.h"

namespace gatehouse {

// Installs a handler (a namespace's init gets no signal whose action is the
// default), blocks SIGTERM and returns a non-blocking signalfd for it.
UniqueFd OpenSupervisorTermFd();

// Reads every pending TERM; true if one came from the supervisor's side.
// `refused` counts those that came from anyone else (a program).
bool ReadSupervisorTerm(int fd, uint64_t* refused);

}  // namespace gatehouse
