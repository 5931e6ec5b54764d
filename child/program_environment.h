// The environment a program gets for one connection or datagram: UCSPI's (PROTO,
// TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP, TCPLOCALPORT, TCPREMOTEHOST, and the
// same with UDP for a datagram; for UNIX
// sockets UNIXREMOTEPID, UNIXREMOTEEUID, UNIXREMOTEEGID), CGI's REMOTE_HOST, a
// PATH, and the service's env= entries. Nothing is inherited.
#pragma once

#include <string>
#include <vector>

#include "common/wire.h"

namespace gatehouse {

inline constexpr const char* kDefaultPath = "PATH=/usr/local/bin:/usr/bin:/bin";

std::vector<std::string> ProgramEnvironment(const ServiceDefinition& service,
                                            const ConnectionInfo& connection);

}  // namespace gatehouse
