#include "supervisor/listener.h"

#include <arpa/inet.h>
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
bool ClearStaleUnixSocket(const SocketAddress& address, const std::string& path, int type,
                          std::string* error) {
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0) return true;
  if (!S_ISSOCK(info.st_mode)) {
    *error = path + " exists and is not a socket";
    return false;
  }
  // Probed with its own type: a stream connect to a datagram socket is refused.
  UniqueFd probe(socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (probe && connect(probe.get(), address.get(), address.length) == 0) {
    *error = path + " is in use by a running server";
    return false;
  }
  unlink(path.c_str());
  return true;
}

// What a datagram's ancillary data must say for its reply: the address it was
// sent to (IP_PKTINFO, IPV6_RECVPKTINFO: a "*" socket answers from that exact
// address, not the route's choice), and a UNIX sender's credentials.
bool EnableDatagramAncillary(int fd, int family, const std::string& shown, std::string* error) {
  int on = 1;
  int level = family == AF_INET ? IPPROTO_IP : family == AF_INET6 ? IPPROTO_IPV6 : SOL_SOCKET;
  int option = family == AF_INET ? IP_PKTINFO : family == AF_INET6 ? IPV6_RECVPKTINFO : SO_PASSCRED;
  if (setsockopt(fd, level, option, &on, sizeof on) != 0) {
    *error = ErrnoMessage("setsockopt", shown, errno);
    return false;
  }
  return true;
}

int BindOne(const ServiceConfig& service, const ServicePort& port, const SocketAddress& address,
            Listener* listener, std::string* error) {
  listener->service = service.name;
  listener->spec = port.spec;
  std::string shown = port.spec.protocol == Protocol::kUnix ? port.spec.path : address.ToString();
  int type = port.spec.protocol == Protocol::kUnix  ? port.spec.socket_type
             : port.spec.protocol == Protocol::kUdp ? SOCK_DGRAM
                                                    : SOCK_STREAM;
  if (port.spec.protocol == Protocol::kUnix &&
      !ClearStaleUnixSocket(address, port.spec.path, type, error)) {
    return EADDRINUSE;
  }
  UniqueFd fd(socket(address.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    int err = errno;
    *error = ErrnoMessage("socket", shown, err);
    return err;
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
    int err = errno;
    *error = ErrnoMessage("bind", shown, err);
    return err;
  }
  if (address.family() == AF_UNIX) {
    // Like systemd's SocketMode default: anyone may connect; guard with the directory.
    chmod(port.spec.path.c_str(), 0666);
  }
  if (type == SOCK_DGRAM) {
    if (!EnableDatagramAncillary(fd.get(), address.family(), shown, error)) return EINVAL;
    listener->address = SocketAddress::Local(fd.get());
    listener->fd = std::move(fd);
    return 0;
  }
  if (listen(fd.get(), service.listen) != 0) {
    int err = errno;
    *error = ErrnoMessage("listen", shown, err);
    return err;
  }
  listener->address = SocketAddress::Local(fd.get());
  listener->fd = std::move(fd);
  return 0;
}

}  // namespace

std::string Listener::Describe() const {
  if (spec.protocol == Protocol::kUnix) return spec.ToString();
  return address.ToString() + "/" + ProtocolName(spec.protocol);
}

Listener::~Listener() {
  if (fd && owns_path && spec.protocol == Protocol::kUnix) unlink(spec.path.c_str());
}

std::string ListenerKey(const std::string& service, const PortSpec& spec) {
  std::string key = spec.ToString();
  if (spec.protocol != Protocol::kUnix && spec.port == 0) key += " of " + service;
  return key;
}

bool IsDatagramSpec(const PortSpec& spec) {
  return spec.protocol == Protocol::kUdp ||
         (spec.protocol == Protocol::kUnix && spec.socket_type == SOCK_DGRAM);
}

void SetBacklog(const Listener& listener, int backlog) {
  if (!listener.datagram()) listen(listener.fd.get(), backlog);
}

bool BindListeners(const Config& config, const std::set<std::string>& keep, ListenerMap* bound_map,
                   std::vector<std::string>* errors, std::vector<std::string>* warnings) {
  size_t errors_before = errors->size();
  for (const ServiceConfig& service : config.services) {
    for (const ServicePort& port : service.ports) {
      std::string key = ListenerKey(service.name, port.spec);
      if (keep.count(key) > 0) continue;
      std::vector<Listener>* listeners = &(*bound_map)[key];
      std::vector<SocketAddress> addresses;
      std::string error;
      if (!ResolvePortSpec(port.spec, &addresses, &error)) {
        errors->push_back(port.where + ": port: " + error);
        continue;
      }
      // "*" and host names may stand for an IPv6 address this machine cannot bind
      // (IPv6 off, as in many containers): skipped with a warning while another
      // address of the same port binds. An address written out must bind.
      in6_addr literal{};
      bool may_skip_v6 =
          port.spec.host == "*" || inet_pton(AF_INET6, port.spec.host.c_str(), &literal) != 1;
      std::vector<std::string> skipped;
      size_t bound = 0;
      for (const SocketAddress& address : addresses) {
        Listener listener;
        int err = BindOne(service, port, address, &listener, &error);
        if (err == 0) {
          listeners->push_back(std::move(listener));
          ++bound;
        } else if (may_skip_v6 && address.family() == AF_INET6 &&
                   (err == EAFNOSUPPORT || err == EADDRNOTAVAIL)) {
          skipped.push_back(port.where + ": port: " + error + " (IPv6 unavailable; skipped)");
        } else {
          errors->push_back(port.where + ": port: " + error);
        }
      }
      std::vector<std::string>* report = bound > 0 ? warnings : errors;
      report->insert(report->end(), skipped.begin(), skipped.end());
    }
  }
  return errors->size() == errors_before;
}

}  // namespace gatehouse
