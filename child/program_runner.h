// Starts a service's program for one connection: the connection on stdin and
// stdout, stderr a pipe of its own that the child reads (never the log file),
// its own session (so a timeout can end its whole process group), default
// signal dispositions, a fresh environment.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/unique_fd.h"
#include "common/wire.h"

namespace gatehouse {

// What StartProgram returns when the child has no fd left for the stderr pipe
// (EMFILE, ENFILE): the connection can wait until a program has ended.
inline constexpr pid_t kNoFdForStderr = -2;

// Returns the pid and, in `stderr_read`, the read end of the program's stderr;
// kNoFdForStderr; or -1 with a message ("/bin/cat: No such file or directory").
pid_t StartProgram(const ServiceDefinition& service, const ConnectionInfo& connection,
                   int connection_fd, UniqueFd* stderr_read, std::string* error);

}  // namespace gatehouse
