#include "common/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace gatehouse {

std::string SocketAddress::Ip() const {
  char text[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET: {
      auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      return text;
    }
    case AF_INET6: {
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
      if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, sizeof text);
      } else {
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      }
      return text;
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<const sockaddr_un*>(&storage);
      size_t max =
          length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
      return std::string(un->sun_path, strnlen(un->sun_path, std::min(max, sizeof un->sun_path)));
    }
    default:
      return "";
  }
}

uint16_t SocketAddress::Port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

std::string SocketAddress::ToString() const {
  switch (family()) {
    case AF_INET:
      return Ip() + ":" + std::to_string(Port());
    case AF_INET6: {
      std::string ip = Ip();
      if (ip.find(':') == std::string::npos) return ip + ":" + std::to_string(Port());
      return "[" + ip + "]:" + std::to_string(Port());
    }
    case AF_UNIX: {
      std::string path = Ip();
      return path.empty() ? "unix" : path;
    }
    default:
      return "?";
  }
}

SocketAddress SocketAddress::Peer(int fd) {
  SocketAddress address;
  address.length = sizeof address.storage;
  if (getpeername(fd, address.get(), &address.length) != 0) address = SocketAddress{};
  return address;
}

SocketAddress SocketAddress::Local(int fd) {
  SocketAddress address;
  address.length = sizeof address.storage;
  if (getsockname(fd, address.get(), &address.length) != 0) address = SocketAddress{};
  return address;
}

}  // namespace gatehouse
