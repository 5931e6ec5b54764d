// Net::Server's daemonization: background (fork, parent exits), setsid, pid_file.
#pragma once

#include <sys/types.h>

#include <string>

namespace gatehouse {

// Forks when background or setsid is set; the parent exits 0 at once. With setsid
// the child starts a new session. Standard input and output go to /dev/null; so
// does stderr when the terminal is left behind (setsid). A log file is never
// stderr: the log keeps its own descriptor.
bool Daemonize(bool background, bool setsid, std::string* error);

// Writes our pid. Refuses when the file names a process that is still running,
// unless that is `replacing` (the process a binary upgrade takes over from).
bool WritePidFile(const std::string& path, pid_t replacing, std::string* error);
// Removes the file if it still names us (after an upgrade it names the successor).
void RemovePidFile(const std::string& path);

}  // namespace gatehouse
