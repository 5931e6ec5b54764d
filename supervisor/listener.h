// Listener: one bound, listening socket of a service. Owned apart from the
// service so that a reload can keep it bound while the service changes.
#pragma once

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

  // "127.0.0.1:7007/tcp", "[::1]:7007/tcp", "/run/echo.sock|unix"
  std::string Describe() const;
  ~Listener();  // removes a UNIX socket's file
  Listener() = default;
  Listener(Listener&&) = default;
  Listener& operator=(Listener&&) = default;
};

// Binds every port of every service before anything is dropped. False with one
// "file:line: port: bind 127.0.0.1:7007: Address already in use" per failure.
bool BindListeners(const Config& config, std::vector<Listener>* listeners,
                   std::vector<std::string>* errors, std::vector<std::string>* warnings);

}  // namespace gatehouse
