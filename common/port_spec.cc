#include "common/port_spec.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/un.h>

#include <cctype>
#include <cstddef>
#include <cstring>

#include "common/parse_number.h"

namespace gatehouse {
namespace {

bool IsDigits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool ParsePortNumber(const std::string& text, Protocol protocol, uint16_t* port,
                     std::string* error) {
  if (IsDigits(text)) {
    uint64_t number = 0;
    if (!ParseDecimal(text, 65535, &number)) {
      *error = "\"" + text + "\" is not a port (0-65535)";
      return false;
    }
    *port = static_cast<uint16_t>(number);
    return true;
  }
  // A service name from /etc/services ("http", "echo").
  bool name_ok = !text.empty();
  for (char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') name_ok = false;
  }
  servent entry{};
  servent* found = nullptr;
  char buffer[1024];
  if (name_ok) {
    getservbyname_r(text.c_str(), protocol == Protocol::kUdp ? "udp" : "tcp", &entry, buffer,
                    sizeof buffer, &found);
  }
  if (found == nullptr) {
    *error = "\"" + text + "\" is not a port or a service name in /etc/services";
    return false;
  }
  *port = ntohs(static_cast<uint16_t>(found->s_port));
  return true;
}

bool ValidHost(const std::string& host) {
  if (host == "*") return true;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return true;
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
  }
  return true;
}

bool ParseUnixSpec(const std::string& text, PortSpec* spec, std::string* error) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t bar = text.find('|', start);
    parts.push_back(text.substr(start, bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 || strcasecmp(parts.back().c_str(), "unix") != 0) {
    *error = "\"" + text + "\" is not a UNIX socket spec (path|unix or path|SOCK_STREAM|unix)";
    return false;
  }
  spec->protocol = Protocol::kUnix;
  spec->path = parts[0];
  spec->socket_type = SOCK_STREAM;
  if (parts.size() == 3) {
    if (parts[1] == "SOCK_STREAM" || parts[1] == "1") {
      spec->socket_type = SOCK_STREAM;
    } else if (parts[1] == "SOCK_DGRAM" || parts[1] == "2") {
      spec->socket_type = SOCK_DGRAM;
    } else {
      *error = "\"" + parts[1] + "\" is not a socket type (SOCK_STREAM or SOCK_DGRAM)";
      return false;
    }
  }
  if (spec->path.empty() || spec->path[0] != '/') {
    *error = "\"" + spec->path + "\" is not an absolute path for a UNIX socket";
    return false;
  }
  if (spec->path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    *error = "\"" + spec->path + "\" is too long for a UNIX socket path (max 107 bytes)";
    return false;
  }
  return true;
}

}  // namespace

const char* ProtocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kUdp:
      return "udp";
    case Protocol::kUnix:
      return "unix";
  }
  return "?";
}

bool ParseProtocol(const std::string& text, Protocol* protocol) {
  for (Protocol p : {Protocol::kTcp, Protocol::kUdp, Protocol::kUnix}) {
    if (strcasecmp(text.c_str(), ProtocolName(p)) == 0) {
      *protocol = p;
      return true;
    }
  }
  return false;
}

bool PortSpec::datagram() const {
  return protocol == Protocol::kUdp || (protocol == Protocol::kUnix && socket_type == SOCK_DGRAM);
}

std::string PortSpec::ToString() const {
  if (protocol == Protocol::kUnix) {
    return path + (socket_type == SOCK_DGRAM ? "|SOCK_DGRAM|unix" : "|unix");
  }
  std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return shown_host + ":" + std::to_string(port) + "/" + ProtocolName(protocol);
}

bool ParsePortSpec(const std::string& raw, const std::string& default_host,
                   Protocol default_protocol, PortSpec* spec, std::string* error) {
  *spec = PortSpec{};
  std::string text = raw;
  if (text.empty()) {
    *error = "empty port";
    return false;
  }
  if (text.find('|') != std::string::npos) return ParseUnixSpec(text, spec, error);
  if (default_protocol == Protocol::kUnix && text[0] == '/') {
    return ParseUnixSpec(text + "|unix", spec, error);
  }

  spec->protocol = default_protocol;
  size_t slash = text.rfind('/');
  if (slash != std::string::npos) {
    std::string proto_text = text.substr(slash + 1);
    if (!ParseProtocol(proto_text, &spec->protocol)) {
      *error = "\"" + proto_text + "\" is not a protocol (tcp, udp or unix)";
      return false;
    }
    text = text.substr(0, slash);
  }
  if (spec->protocol == Protocol::kUnix) {
    *error = "\"" + raw + "\": a UNIX socket is written path|unix";
    return false;
  }

  std::string host = default_host.empty() ? "*" : default_host;
  std::string port_text = text;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *error = "\"" + raw + "\" is not [address]:port";
      return false;
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) {
      *error = "\"" + host + "\" is not an IPv6 address";
      return false;
    }
  } else if (text.find(':') != std::string::npos) {
    size_t colon = text.rfind(':');
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      *error = "\"" + raw + "\": write an IPv6 address in brackets, as [::1]:7007";
      return false;
    }
  }
  if (!ValidHost(host)) {
    *error = "\"" + host + "\" is not a host name or address";
    return false;
  }
  spec->host = host;
  return ParsePortNumber(port_text, spec->protocol, &spec->port, error);
}

bool ResolvePortSpec(const PortSpec& spec, std::vector<SocketAddress>* addresses,
                     std::string* error) {
  addresses->clear();
  if (spec.protocol == Protocol::kUnix) {
    SocketAddress address;
    auto* un = reinterpret_cast<sockaddr_un*>(&address.storage);
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, spec.path.data(), spec.path.size());
    address.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + spec.path.size() + 1);
    addresses->push_back(address);
    return true;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = spec.protocol == Protocol::kUdp ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const char* node = spec.host == "*" ? nullptr : spec.host.c_str();
  std::string service = std::to_string(spec.port);
  int rc = getaddrinfo(node, service.c_str(), &hints, &result);
  if (rc != 0) {
    *error = "cannot resolve \"" + spec.host + "\": " + gai_strerror(rc);
    return false;
  }
  for (addrinfo* info = result; info != nullptr; info = info->ai_next) {
    SocketAddress address;
    std::memcpy(&address.storage, info->ai_addr, info->ai_addrlen);
    address.length = info->ai_addrlen;
    bool seen = false;
    for (const SocketAddress& known : *addresses) {
      if (known.length == address.length &&
          std::memcmp(&known.storage, &address.storage, address.length) == 0) {
        seen = true;
      }
    }
    if (!seen) addresses->push_back(address);
  }
  freeaddrinfo(result);
  if (addresses->empty()) {
    *error = "\"" + spec.host + "\" resolves to no address";
    return false;
  }
  return true;
}

}  // namespace gatehouse
