// Starts a service's program for one connection: the connection on stdin and
// stdout, stderr shared with gatehouse's log, its own session (so a timeout can
// end its whole process group), default signal dispositions, a fresh environment.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/wire.h"

namespace gatehouse {

// Returns the pid, or -1 with a message ("/bin/cat: No such file or directory").
pid_t StartProgram(const ServiceDefinition& service, const ConnectionInfo& connection,
                   int connection_fd, std::string* error);

}  // namespace gatehouse
