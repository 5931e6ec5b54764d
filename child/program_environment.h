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

// What every program of the service gets: the env= entries, then PATH unless
// they set it. `room`: entries the caller will add.
std::vector<std::string> ServiceEnvironment(const ServiceDefinition& service, size_t room = 0);

std::vector<std::string> ProgramEnvironment(const ServiceDefinition& service,
                                            const ConnectionInfo& connection);

}  // namespace gatehouse
