#include "supervisor/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
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
  // TCP only (a restart binds past TIME_WAIT): on a UDP socket SO_REUSEADDR would
  // let any local user's socket bind the same address and port beside ours and
  // take the service's datagrams.
  if (address.family() != AF_UNIX && type == SOCK_STREAM) {
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  }
  if (address.family() == AF_INET6) {
    // [::] binds v6 only; "*" binds 0.0.0.0 beside it.
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  // A UNIX socket's file is born owner-only (a datagram socket takes datagrams
  // from bind on, before any chmod) and then gets the service's mode and owner.
  bool unix_socket = address.family() == AF_UNIX;
  mode_t umask_before = unix_socket ? umask(0177) : 0;
  int bound = bind(fd.get(), address.get(), address.length);
  int bind_errno = errno;
  if (unix_socket) umask(umask_before);
  if (bound != 0) {
    *error = ErrnoMessage("bind", shown, bind_errno);
    return bind_errno;
  }
  if (!ApplyUnixSocketOwnership(*listener, service, error)) return EPERM;
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

bool ApplyUnixSocketOwnership(const Listener& listener, const ServiceConfig& service,
                              std::string* error) {
  if (listener.spec.protocol != Protocol::kUnix) return true;
  const std::string& path = listener.spec.path;
  size_t slash = path.rfind('/');
  std::string folder = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  // The file is reached from its folder without following a symlink and then
  // changed through that one open inode, so a path swapped meanwhile (a
  // symlink to /etc/shadow in a folder others may write) is never touched.
  UniqueFd folder_fd(open(folder.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd file;
  if (folder_fd) file.reset(openat(folder_fd.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat info {};
  if (!file || fstat(file.get(), &info) != 0) {
    *error = ErrnoMessage("open", path, errno);
    return false;
  }
  if (!S_ISSOCK(info.st_mode) || info.st_nlink != 1) {
    *error = path + " is not the socket gatehouse bound (not a socket, or a link to one); " +
             "its mode and owner were left alone";
    return false;
  }
  uid_t uid = service.unix_owner >= 0 ? static_cast<uid_t>(service.unix_owner) : geteuid();
  gid_t gid = service.unix_group >= 0 ? static_cast<gid_t>(service.unix_group) : getegid();
  mode_t mode = static_cast<mode_t>(service.unix_mode);
  // chmod has no form for an O_PATH descriptor; its /proc link names the same inode.
  std::string by_fd = "/proc/self/fd/" + std::to_string(file.get());
  if (info.st_uid != uid || info.st_gid != gid) {
    // While the owner changes, the file is never more open than both the old
    // and the new setting.
    if (chmod(by_fd.c_str(), info.st_mode & mode & 0777) != 0) {
      *error = ErrnoMessage("chmod", path, errno);
      return false;
    }
    if (fchownat(file.get(), "", uid, gid, AT_EMPTY_PATH) != 0) {
      *error = ErrnoMessage("chown",
                            path + " to " + std::to_string(uid) + ":" + std::to_string(gid), errno);
      return false;
    }
  }
  if (chmod(by_fd.c_str(), mode) != 0) {
    *error = ErrnoMessage("chmod", path, errno);
    return false;
  }
  return true;
}

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
