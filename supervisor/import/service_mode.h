// inetd's kinds of service (internal, wait/nowait, stream/dgram) as gatehouse's
// mode = fork | wait | datagram | builtin.
#pragma once

#include <string>

#include "supervisor/import/imported_service.h"

namespace gatehouse {

// An internal service named `name`: mode = builtin with builtin = NAME for the
// ones gatehouse serves itself (echo, discard, daytime, chargen, time), else a
// reason that comments the section out.
void ImportInternalService(const std::string& name, ImportedService* out);

// A program's service: `datagram` (dgram, udp) and `wait` (wait = yes, inetd's
// wait) choose the mode; fork, the default, is written as nothing.
void ImportProgramMode(bool datagram, bool wait, ImportedService* out);

}  // namespace gatehouse
