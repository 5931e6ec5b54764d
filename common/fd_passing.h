// Passing file descriptors with a packet on a UNIX socket (SCM_RIGHTS), and
// nothing else. Received fds are close-on-exec from the start and owned, so an
// fd nobody wanted is closed, never leaked.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace gatehouse {

// Room for this many fds on receipt: a peer sending more cannot make us lose
// track of any (the packet is refused and they are all closed).
inline constexpr size_t kMaxReceivedFds = 8;

// Sends `packet` as one packet with `fds` attached, without blocking. Returns 0,
// or an errno value (EAGAIN when the socket is full); the fds stay the caller's.
int SendPacket(int socket, const std::string& packet, const int* fds = nullptr,
               size_t fd_count = 0);

// Receives one packet into `buffer` (`capacity` bytes) and its fds into `fds`,
// without blocking. Returns the packet's size, 0 when the peer has closed, or -1
// with errno set: EAGAIN when nothing waits, EMSGSIZE when the packet did not
// fit, EBADMSG for an empty packet (in both, whatever fds did arrive are in `fds`,
// to be closed). `fds_lost` says that the kernel could not give us every fd attached
// (we are at our own fd limit): the packet itself is whole.
ssize_t ReceivePacket(int socket, char* buffer, size_t capacity, std::vector<UniqueFd>* fds,
                      bool* fds_lost);

}  // namespace gatehouse
