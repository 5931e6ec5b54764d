// The relay of one TLS connection (s6-tlsd-io's model): a process of its own,
// forked by the child for each connection, so that no two connections' session
// keys share a process. It runs as the service's user with no capabilities, in
// the service's namespaces, not dumpable. It does the handshake on the client's
// socket, reports the result on the program's end of a socketpair, then splices
// the two with back-pressure (one buffer each way, read only when it is empty),
// close_notify <-> EOF in each direction, and a deadline.
//
// The report, on the program's end before any client byte: 'R' (ready) or 'F'
// (failed), a u32 length (host order) and that many bytes: the SSL_ variables
// as NUL-separated NAME=value entries, or the reason the handshake failed.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/tls_context.h"
#include "common/unique_fd.h"

namespace gatehouse {

inline constexpr size_t kTlsReportHeaderBytes = 5;
inline constexpr size_t kMaxTlsReportBytes = 16 * 1024;

// Forks the relay for `client_fd` (which the caller then closes). Returns its
// pid, and in `program_end` the socket for the program; -1 with a message.
// `run_seconds` (0: none) bounds the relay after its handshake.
pid_t StartTlsRelay(const TlsContexts& contexts, int client_fd, uint32_t run_seconds,
                    UniqueFd* program_end, std::string* error);

// Checks a ready report's payload: only the SSL_ names, each once, no control
// bytes. False with a message.
bool ParseTlsEnvironment(const std::string& payload, std::vector<std::string>* env,
                         std::string* error);

}  // namespace gatehouse
