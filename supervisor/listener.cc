#include "supervisor/listener.h"

#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

#include "common/sys_error.h"

namespace gatehouse {
namespace {

// A UNIX socket file left by an earlier run is removed; one that a live server
// still answers on, or a file that is not a socket, is an error.
bool ClearStaleUnixSocket(const SocketAddress& address, const std::string& path,
                          std::string* error) {
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0) return true;
  if (!S_ISSOCK(info.st_mode)) {
    *error = path + " exists and is not a socket";
    return false;
  }
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe && connect(probe.get(), address.get(), address.length) == 0) {
    *error = path + " is in use by a running server";
    return false;
  }
  unlink(path.c_str());
  return true;
}

bool BindOne(const ServiceConfig& service, const ServicePort& port, const SocketAddress& address,
             Listener* listener, std::string* error) {
  listener->service = service.name;
  listener->spec = port.spec;
  std::string shown = port.spec.protocol == Protocol::kUnix ? port.spec.path : address.ToString();
  int type = port.spec.protocol == Protocol::kUnix ? port.spec.socket_type : SOCK_STREAM;
  if (port.spec.protocol == Protocol::kUnix &&
      !ClearStaleUnixSocket(address, port.spec.path, error)) {
    return false;
  }
  UniqueFd fd(socket(address.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    *error = ErrnoMessage("socket", shown, errno);
    return false;
  }
  int on = 1;
  if (address.family() != AF_UNIX) {
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  }
  if (address.family() == AF_INET6) {
    // [::] binds v6 only; "*" binds 0.0.0.0 beside it.
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  if (bind(fd.get(), address.get(), address.length) != 0) {
    *error = ErrnoMessage("bind", shown, errno);
    return false;
  }
  if (address.family() == AF_UNIX) {
    // Like systemd's SocketMode default: anyone may connect; guard with the directory.
    chmod(port.spec.path.c_str(), 0666);
  }
  if (listen(fd.get(), service.listen) != 0) {
    *error = ErrnoMessage("listen", shown, errno);
    return false;
  }
  listener->address = SocketAddress::Local(fd.get());
  listener->fd = std::move(fd);
  return true;
}

}  // namespace

std::string Listener::Describe() const {
  if (spec.protocol == Protocol::kUnix) return spec.ToString();
  return address.ToString() + "/" + ProtocolName(spec.protocol);
}

Listener::~Listener() {
  if (fd && spec.protocol == Protocol::kUnix) unlink(spec.path.c_str());
}

bool BindListeners(const Config& config, std::vector<Listener>* listeners,
                   std::vector<std::string>* errors, std::vector<std::string>* warnings) {
  size_t errors_before = errors->size();
  for (const ServiceConfig& service : config.services) {
    for (const ServicePort& port : service.ports) {
      std::vector<SocketAddress> addresses;
      std::string error;
      if (!ResolvePortSpec(port.spec, &addresses, &error)) {
        errors->push_back(port.where + ": port: " + error);
        continue;
      }
      for (const SocketAddress& address : addresses) {
        Listener listener;
        if (BindOne(service, port, address, &listener, &error)) {
          listeners->push_back(std::move(listener));
        } else if (port.spec.host == "*" && address.family() == AF_INET6 &&
                   (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
          warnings->push_back(port.where + ": port: " + error + " (IPv6 unavailable; skipped)");
        } else {
          errors->push_back(port.where + ": port: " + error);
        }
      }
    }
  }
  return errors->size() == errors_before;
}

}  // namespace gatehouse
