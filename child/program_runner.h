// Starts a service's program for one connection through the exec stage
// (child/exec_stage.h): the connection (or a datagram's two pipes) on stdin and stdout; stderr, as
// the service says, a pipe of its own that the child reads (never the log file), the connection, or
// /dev/null; its own session (so a timeout can end its whole process group), default signal
// dispositions, a fresh environment, the service's working directory.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "common/wire.h"

namespace gatehouse {

// What StartProgram returns when the child has no fd left for the stderr pipe
// (EMFILE, ENFILE): the connection can wait until a program has ended.
inline constexpr pid_t kNoFdForStderr = -2;

// Returns the pid and, with stderr = log, in `stderr_read` the read end of the
// program's stderr (left empty otherwise); kNoFdForStderr; or -1 with a message
// ("/bin/cat: No such file or directory"). `null_fd` is /dev/null, opened
// before the chroot, for stderr = null.
pid_t StartProgram(const ServiceDefinition& service, const ConnectionInfo& connection,
                   int connection_fd, int null_fd, UniqueFd* stderr_read, std::string* error);

// The same with stdin and stdout apart (mode = datagram: two pipes). stderr =
// client then goes to `stdout_fd`.
struct ProgramStdio {
  int stdin_fd = -1;
  int stdout_fd = -1;
};
pid_t StartProgram(const ServiceDefinition& service, const ConnectionInfo& connection,
                   ProgramStdio stdio, int null_fd, UniqueFd* stderr_read, std::string* error);

// What one start of a program gets beyond the service's own settings.
struct ProgramLaunch {
  int stdin_fd = -1;             // stdin
  int stdout_fd = -1;            // stdout (and stderr = client)
  std::vector<std::string> env;  // the whole environment
  // Placed on fds 3, 4, ... (mode = wait's listening sockets).
  std::vector<int> extra_fds;
  // The index in `env` of an entry "LISTEN_PID=" followed by kOwnPidSlotBytes
  // bytes of room, which the exec stage fills with the program's own pid; -1: none.
  int own_pid_entry = -1;
};

// StartProgram for any launch; returns as StartProgram does.
pid_t StartProgramWith(const ServiceDefinition& service, ProgramLaunch& launch, int null_fd,
                       UniqueFd* stderr_read, std::string* error);

}  // namespace gatehouse
