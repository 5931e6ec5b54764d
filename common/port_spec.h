// PortSpec: one Net::Server `port` value ("host:port/proto", "[::1]:port",
// "port/proto", a service name, "path|unix", "path|SOCK_DGRAM|unix"), parsed and
// resolved to the socket addresses it binds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/socket_address.h"

namespace gatehouse {

enum class Protocol { kTcp, kUdp, kUnix };

const char* ProtocolName(Protocol protocol);
// "tcp", "udp", "unix" (any case); false for anything else.
bool ParseProtocol(const std::string& text, Protocol* protocol);

struct PortSpec {
  Protocol protocol = Protocol::kTcp;
  std::string host;     // "*", an address literal or a host name (tcp/udp)
  uint16_t port = 0;    // tcp/udp; 0 lets the kernel choose (logged when bound)
  std::string path;     // unix
  int socket_type = 0;  // SOCK_STREAM or SOCK_DGRAM

  // Canonical text: "127.0.0.1:7007/tcp", "[::1]:7007/tcp", "/run/x.sock|unix".
  std::string ToString() const;
  // A datagram socket: UDP, or path|SOCK_DGRAM|unix.
  bool datagram() const;
  bool operator==(const PortSpec& other) const { return ToString() == other.ToString(); }
};

// Parses `text`; host and protocol left out come from the service's `host` and
// `proto` keys. On error returns false and sets a message that quotes the value.
bool ParsePortSpec(const std::string& text, const std::string& default_host,
                   Protocol default_protocol, PortSpec* spec, std::string* error);

// The addresses a spec binds: "*" gives 0.0.0.0 and [::]; a host name gives each
// address it resolves to. False (with a message) when nothing resolves.
bool ResolvePortSpec(const PortSpec& spec, std::vector<SocketAddress>* addresses,
                     std::string* error);

}  // namespace gatehouse
