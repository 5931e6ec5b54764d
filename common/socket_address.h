// SocketAddress: a sockaddr of any family, with the text forms gatehouse logs
// and puts in the environment (TCPREMOTEIP and friends).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace gatehouse {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }

  // Address without port: "127.0.0.1", "::1", a v4-mapped v6 peer as plain v4
  // ("::ffff:127.0.0.1" -> "127.0.0.1"), a UNIX socket's path (may be empty).
  std::string Ip() const;
  // Port for INET families, 0 otherwise.
  uint16_t Port() const;
  // "127.0.0.1:7007", "[::1]:7007", "/run/x.sock" (the form used in log lines).
  std::string ToString() const;

  static SocketAddress Peer(int fd);   // getpeername; empty address on failure
  static SocketAddress Local(int fd);  // getsockname; empty address on failure
};

}  // namespace gatehouse
