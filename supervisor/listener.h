// Listener: one bound socket of a service (listening, or a datagram socket). Owned apart from the
// service and keyed by its spec (ListenerKey) so that a reload keeps a listener
// whose spec is unchanged bound, with the same socket, while its service changes.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/socket_address.h"
#include "common/unique_fd.h"

namespace gatehouse {

struct Listener {
  std::string service;
  PortSpec spec;
  SocketAddress address;  // as bound: the kernel's port when the spec said 0
  UniqueFd fd;            // non-blocking, close-on-exec
  // A UNIX socket's file is removed on close, unless another process (an
  // upgrade's successor, or the process it replaced) serves the same socket.
  bool owns_path = true;

  // "127.0.0.1:7007/tcp", "[::1]:7007/tcp", "/run/echo.sock|unix"
  std::string Describe() const;
  // A UDP or SOCK_DGRAM UNIX socket: bound, never listening; DatagramReceiver reads it.
  bool datagram() const { return spec.datagram(); }
  ~Listener();  // removes a UNIX socket's file
  Listener() = default;
  Listener(Listener&&) = default;
  Listener& operator=(Listener&&) = default;
};

// The identity of a listener across reloads: the spec's canonical text. A port the
// kernel chooses (port 0) is private to its service, so the key names the service.
std::string ListenerKey(const std::string& service, const PortSpec& spec);

// Listeners by key; a spec may stand for several addresses ("*": 0.0.0.0 and [::]).
using ListenerMap = std::map<std::string, std::vector<Listener>>;

// Binds every port of every service whose key is not in `keep` (those are bound
// already). False with one "file:line: port: bind 127.0.0.1:7007: Address already
// in use" per failure; what was bound is then closed again by the caller's map.
bool BindListeners(const Config& config, const std::set<std::string>& keep, ListenerMap* bound,
                   std::vector<std::string>* errors, std::vector<std::string>* warnings);

// Gives a UNIX socket's file the mode, owner and group its service asks for
// (unix_mode, unix_owner, unix_group; unset: gatehouse's own user and group),
// at bind and again whenever a service is attached to a kept or inherited
// listener. It never follows a symlink and changes only a socket file with one
// link. True, doing nothing, for other listeners.
bool ApplyUnixSocketOwnership(const Listener& listener, const ServiceConfig& service,
                              std::string* error);

// Re-applies the backlog of an already listening socket (listen() may be called
// again; a reload that changes `listen` keeps the socket). Nothing for a datagram socket.
void SetBacklog(const Listener& listener, int backlog);

}  // namespace gatehouse
