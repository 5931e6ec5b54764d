// The supervisor's fd budget: what a config can make it hold open at worst, summed
// over services, against RLIMIT_NOFILE. A config that cannot fit the hard limit is
// refused (--check, start, reload) rather than found out as EMFILE under load,
// when one stalled service would take the fds every other service needs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

namespace gatehouse {

// What one service can hold in the supervisor at once.
struct ServiceFdNeed {
  std::string name;
  std::string where;         // file:line of its max_servers (or of its section)
  uint64_t listeners = 0;    // sockets its ports bind
  uint64_t connections = 0;  // accepted, not yet taken by its child: max_servers, at most the queue
  uint64_t child_links = 0;  // control socket and stderr pipe, for its child and a draining one
  uint64_t total() const { return listeners + connections + child_links; }
  // What its gatehouse-child can hold: per program a stderr pipe and a pidfd
  // on its way to the supervisor, plus the child's own few.
  uint64_t child_fds = 0;
};

struct FdBudget {
  std::vector<ServiceFdNeed> services;  // the largest need first
  uint64_t pending_headers = 0;         // PROXY headers being read (when any service reads them)
  uint64_t pending_lookups = 0;         // connections waiting for a reverse lookup (when any does)
  uint64_t reserve = 0;                 // log, syslog, epoll, signals, resolver, stdio, spawning
  uint64_t total = 0;
};

// Connections the supervisor queues (with their fds) for a child that is behind;
// past it, new ones are refused. What the child has taken, or what waits in the
// kernel's socket buffer, is no longer in the supervisor's fd table.
inline constexpr uint64_t kMaxQueuedConnections = 4096;
// The fds gatehouse keeps for itself whatever the config.
inline constexpr uint64_t kFdReserve = 32;
// What each child link costs the supervisor: the control socket and a copy of the
// child's end of it (to take back what a dead child never read), the child's
// stderr and its namespace's lifeline. (A running program's stderr copy, held in
// case its child dies, takes the place of its connection's fd: together at most
// max_servers, as counted under `connections`.)
inline constexpr uint64_t kFdsPerChild = 4;
// What a gatehouse-child holds whatever its programs: fds 0-3, its event loop,
// signals, /dev/null, the pidfd of its serving process.
inline constexpr uint64_t kChildFdReserve = 16;

// The bound on connections that wait for a PROXY header, and on reverse lookups
// under way, each shared by all services: an eighth of the hard limit, at least 64
// and at most 1,024, so that these pools fit beside the services' own needs.
uint64_t SharedPoolBound(uint64_t hard_limit);

// How many sockets a port binds: "*" two (IPv4 and IPv6), a host name what it
// resolves to (two if it does not resolve now), an address or a path one.
uint64_t ListenerSockets(const PortSpec& spec);

// The worst case of `config` with `hard_limit` (which sizes the shared pools).
FdBudget ComputeFdBudget(const Config& config, uint64_t hard_limit);

struct FileLimits {
  uint64_t soft = 0;  // the soft RLIMIT_NOFILE gatehouse was started with
  uint64_t hard = 0;
};

// Refuses a config whose budget exceeds `limits.hard` ("file:line: max_servers:
// services need up to N fds at once, the hard limit is M ..."); warns when it
// fits the hard limit but not the soft one, and when one service's child can
// need more than the hard limit (its connections then wait for fds).
void CheckFdBudget(const Config& config, const FileLimits& limits, std::vector<std::string>* errors,
                   std::vector<std::string>* warnings);

// The limits gatehouse was started with: remembered once in main() before it
// raises its soft limit.
void RememberStartFileLimits();
// What holds now: the hard limit read again (prlimit may have lowered it in a
// running gatehouse), the start's soft limit no higher than it. A reload
// checks its config against these, and programs get this soft limit back.
FileLimits CurrentFileLimits();

}  // namespace gatehouse
