#include "supervisor/datagram_receiver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "common/monotonic_clock.h"
#include "common/sys_error.h"
#include "common/unique_fd.h"
#include "supervisor/acceptor.h"

namespace gatehouse {
namespace {

// Datagrams read per wake-up before other sockets and the children get their turn.
constexpr int kReceiveBatch = 64;
// Reverse lookups one datagram socket may have waiting. Datagram senders are
// forged at no cost: without a bound of its own one socket could fill the
// resolver's shared pool (and hold a datagram's bytes per lookup), so that TCP
// peers of every service lost their names.
constexpr size_t kMaxPendingLookups = 64;

std::string TextOf(int family, const void* address) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, address, text, sizeof text);
  return text;
}

// Where a UNIX sender's reply may go. We send as root, and its bound path is
// looked up again when we send: a sender that swapped its socket file for a
// symlink (or renamed a directory of the path) would have us deliver what it
// chose, with our credentials, to any socket on the host (/dev/log, systemd's
// notify socket). So the reply goes only to a socket file the sender owns, and
// to that very file: `to` names it as /proc/self/fd/N of `held`, an O_PATH fd.
// Abstract names have no file to swap: kept as they are. `peer` is absolute.
bool UnixReplyTarget(const SocketAddress& peer, const std::optional<ucred>& sender, UniqueFd* held,
                     SocketAddress* to, std::string* why) {
  const auto* address = reinterpret_cast<const sockaddr_un*>(&peer.storage);
  size_t length = peer.length - offsetof(sockaddr_un, sun_path);
  if (length == 0 || address->sun_path[0] == '\0') return true;  // abstract
  std::string path(address->sun_path, strnlen(address->sun_path, length));
  held->reset(open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat file {};
  if (!*held || fstat(held->get(), &file) != 0) {
    *why = ErrnoMessage("open", path, errno);
    return false;
  }
  if (!S_ISSOCK(file.st_mode)) {
    *why = path + " is no longer a socket";
    return false;
  }
  if (!sender) {
    *why = "the sender's credentials are unknown";
    return false;
  }
  if (sender->uid != 0 && file.st_uid != sender->uid) {
    *why = path + " belongs to uid " + std::to_string(file.st_uid) + ", not to the sender (uid " +
           std::to_string(sender->uid) + ")";
    return false;
  }
  auto* target = reinterpret_cast<sockaddr_un*>(&to->storage);
  target->sun_family = AF_UNIX;
  int n = snprintf(target->sun_path, sizeof target->sun_path, "/proc/self/fd/%d", held->get());
  to->length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + 1);
  return true;
}

// Makes `value` the one control message of `message`, in `buffer` (room for it).
template <typename Value>
void SetControl(msghdr* message, char* buffer, int level, int type, const Value& value) {
  message->msg_control = buffer;
  message->msg_controllen = CMSG_SPACE(sizeof value);
  cmsghdr* control = CMSG_FIRSTHDR(message);
  control->cmsg_level = level;
  control->cmsg_type = type;
  control->cmsg_len = CMSG_LEN(sizeof value);
  std::memcpy(CMSG_DATA(control), &value, sizeof value);
}

}  // namespace

struct DatagramReceiver::Arrival {
  SocketAddress peer;
  std::string bytes;
  // The address it was sent to, from IP_PKTINFO / IPV6_PKTINFO.
  std::optional<in_pktinfo> v4;
  std::optional<in6_pktinfo> v6;
  std::string local_ip;
  uint16_t local_port = 0;
  std::optional<ucred> credentials;  // a UNIX sender's (SO_PASSCRED)
  bool guarded = true;               // the service's reflection_guard when it came
  size_t request_bytes = 0;          // bounds the reply when guarded
  std::string shown;                 // the sender, for log lines
};

size_t ReflectionBound(size_t request_bytes) {
  return std::min(std::max(request_bytes * kReflectionFactor, kReflectionFloorBytes),
                  kMaxDatagramReplyBytes);
}

DatagramReceiver::DatagramReceiver(event_base* base, Listener listener, ReverseResolver* resolver)
    : listener_(std::make_unique<Listener>(std::move(listener))),
      resolver_(resolver),
      buffer_(kMaxDatagramBytes, '\0'),
      log_throttle_(base) {
  read_event_.reset(event_new(base, listener_->fd.get(), EV_READ | EV_PERSIST, OnReadable, this));
}

DatagramReceiver::~DatagramReceiver() = default;

void DatagramReceiver::Attach(std::shared_ptr<const ServiceConfig> service, Dispatch dispatch,
                              std::function<void()> on_denied) {
  service_ = std::move(service);
  dispatch_ = std::move(dispatch);
  on_denied_ = std::move(on_denied);
  // A reload or an upgrade may change unix_mode/unix_owner/unix_group of a kept socket.
  std::string error;
  if (!ApplyUnixSocketOwnership(*listener_, *service_, &error)) {
    Log(kLogErr, service_->name + ": " + error);
  }
}

void DatagramReceiver::SetServicePorts(std::shared_ptr<const std::set<uint16_t>> ports) {
  service_ports_ = std::move(ports);
}

bool DatagramReceiver::serves_datagrams() const {
  return service_ != nullptr && (service_->program.mode == ServiceMode::kDatagram ||
                                 service_->program.mode == ServiceMode::kBuiltin);
}

void DatagramReceiver::SetReceiving(bool receiving) {
  receiving = receiving && serves_datagrams();
  if (receiving == receiving_) return;
  receiving_ = receiving;
  if (receiving) {
    event_add(read_event_.get(), nullptr);
  } else {
    event_del(read_event_.get());
  }
}

void DatagramReceiver::OnReadable(evutil_socket_t, short, void* self) {
  static_cast<DatagramReceiver*>(self)->ReceiveBatch();
}

void DatagramReceiver::ReceiveBatch() {
  bool unix_socket = listener_->spec.protocol == Protocol::kUnix;
  // A batch may end in a dispatch that stops this receiver.
  for (int i = 0; i < kReceiveBatch && receiving_; ++i) {
    auto arrival = std::make_shared<Arrival>();
    arrival->peer.length = sizeof arrival->peer.storage;
    iovec data{buffer_.data(), buffer_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(ucred)) +
                                  CMSG_SPACE(sizeof(in_pktinfo))];
    msghdr message{};
    message.msg_name = arrival->peer.get();
    message.msg_namelen = arrival->peer.length;
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    // MSG_TRUNC: the datagram's real length, so an oversize one is seen, not cut.
    // MSG_DONTWAIT: a wait program that held the socket may have left it blocking.
    ssize_t received =
        recvmsg(listener_->fd.get(), &message, MSG_TRUNC | MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (received < 0) {
      int err = errno;
      if (err == EAGAIN || err == EINTR) return;
      if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH) continue;
      LogThrottled("receive error", ErrnoMessage("recvmsg", listener_->Describe(), err));
      return;
    }
    arrival->peer.length = message.msg_namelen;
    arrival->shown = unix_socket ? (arrival->peer.length > sizeof(sa_family_t)
                                        ? arrival->peer.ToString()
                                        : std::string("an unnamed socket"))
                                 : arrival->peer.ToString();
    if ((message.msg_flags & MSG_TRUNC) != 0 || static_cast<size_t>(received) > buffer_.size()) {
      LogThrottled("oversize", "dropped a datagram of " + std::to_string(received) +
                                   " bytes from " + arrival->shown + " on " +
                                   listener_->Describe() + " (at most " +
                                   std::to_string(kMaxDatagramBytes) + ")");
      continue;
    }
    arrival->bytes.assign(buffer_.data(), static_cast<size_t>(received));
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        arrival->v4 = info;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        arrival->v6 = info;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred credentials;
        std::memcpy(&credentials, CMSG_DATA(c), sizeof credentials);
        arrival->credentials = credentials;
      }
    }
    // UDPLOCALIP: the address the client sent to (the socket's own one when
    // bound to a single address).
    arrival->local_port = listener_->address.Port();
    if (arrival->v4) {
      arrival->local_ip = TextOf(AF_INET, &arrival->v4->ipi_addr);
    } else if (arrival->v6) {
      arrival->local_ip = TextOf(AF_INET6, &arrival->v6->ipi6_addr);
    } else {
      arrival->local_ip = listener_->address.Ip();
    }
    Admit(std::move(arrival));
  }
}

void DatagramReceiver::Admit(std::shared_ptr<Arrival> arrival) {
  bool unix_socket = listener_->spec.protocol == Protocol::kUnix;
  arrival->guarded = service_->reflection_guard;
  // Checked before the access rules: a spoofed flood must not cost lookups.
  if (arrival->guarded && !unix_socket) {
    uint16_t port = arrival->peer.Port();
    std::string where = arrival->shown + " on " + listener_->Describe();
    if (port < kFirstUnprivilegedPort) {
      DropDenied("privileged source port",
                 where + ": source port below 1024 (reflection_guard); no reply");
      return;
    }
    if (service_ports_ && service_ports_->count(port) > 0) {
      DropDenied("service source port",
                 where + ": source port of a UDP service (reflection_guard); no reply");
      return;
    }
  }
  if (!service_->reverse_lookups || unix_socket) {
    Decide(std::move(arrival), std::nullopt);
    return;
  }
  if (pending_lookups_ >= kMaxPendingLookups) {
    LogThrottled("lookups pending", arrival->shown + " on " + listener_->Describe() +
                                        ": dropped, " + std::to_string(kMaxPendingLookups) +
                                        " reverse lookups of this socket are waiting");
    return;
  }
  ++pending_lookups_;
  std::weak_ptr<bool> alive = alive_;
  SocketAddress peer = arrival->peer;
  resolver_->Lookup(peer, [this, alive, arrival](const PeerName& found) {
    if (alive.expired()) return;
    --pending_lookups_;
    if (found.outcome == PeerName::kFailed && service_->access.HasRegexRules()) {
      // Fail closed: the name might have matched a deny rule.
      DropDenied("denied", arrival->shown + " on " + listener_->Describe() +
                               " (lookup failed: " + found.reason + ")");
      return;
    }
    std::optional<std::string> host;
    if (found.outcome == PeerName::kName) host = found.name;
    Decide(arrival, host);
  });
}

void DatagramReceiver::Decide(std::shared_ptr<Arrival> arrival,
                              const std::optional<std::string>& host) {
  bool unix_socket = listener_->spec.protocol == Protocol::kUnix;
  std::string shown = arrival->shown;
  if (host) shown += " (" + *host + ")";
  if (!service_->access.Admits(arrival->peer, host)) {
    DropDenied("denied", shown + " on " + listener_->Describe());
    return;
  }
  Datagram datagram;
  ConnectionInfo& info = datagram.connection;
  info.id = NextConnectionId();
  if (unix_socket) {
    info.proto = "UNIX";
    if (arrival->credentials) {
      info.unix_pid = arrival->credentials->pid;
      info.unix_uid = static_cast<int32_t>(arrival->credentials->uid);
      info.unix_gid = static_cast<int32_t>(arrival->credentials->gid);
      shown +=
          " (pid " + std::to_string(info.unix_pid) + " uid " + std::to_string(info.unix_uid) + ")";
    }
  } else {
    info.proto = "UDP";
    info.peer_ip = arrival->peer.Ip();
    info.peer_port = arrival->peer.Port();
    info.local_ip = arrival->local_ip;
    info.local_port = arrival->local_port;
    info.remote_host = host.value_or("");
  }
  // The arrival stays with the reply's way back: without its bytes, which go to the child.
  arrival->request_bytes = arrival->bytes.size();
  datagram.bytes = std::move(arrival->bytes);
  arrival->bytes = std::string();
  dispatch_(datagram, shown + "/" + (unix_socket ? "unix" : "udp"), ReplySenderFor(arrival));
}

DatagramReplySender DatagramReceiver::ReplySenderFor(std::shared_ptr<Arrival> arrival) {
  std::weak_ptr<bool> alive = alive_;
  return [this, alive, arrival](const std::string& reply) {
    if (alive.expired()) return;  // its socket was closed by a reload
    SendReply(*arrival, reply);
  };
}

// Sent as it is, an empty reply too (echo's answer to an empty datagram): the
// child decides whether there is a reply by sending DatagramReply or not.
void DatagramReceiver::SendReply(const Arrival& arrival, std::string reply) {
  std::string where = arrival.shown + " on " + listener_->Describe();
  bool unix_socket = listener_->spec.protocol == Protocol::kUnix;
  if (unix_socket && arrival.peer.length <= sizeof(sa_family_t)) {
    // An unnamed (unbound) sender has no address to answer to.
    LogThrottled("unnamed sender", "no reply to " + where + ": the sender has no bound path");
    return;
  }
  char first = reinterpret_cast<const sockaddr_un*>(&arrival.peer.storage)->sun_path[0];
  if (unix_socket && first != '\0' && first != '/') {
    // Relative to the sender's directory, which we do not know.
    LogThrottled("relative sender", "no reply to " + where + ": the sender bound a relative path");
    return;
  }
  SocketAddress to = arrival.peer;
  UniqueFd target;
  std::string why;
  if (unix_socket && !UnixReplyTarget(arrival.peer, arrival.credentials, &target, &to, &why)) {
    LogThrottled("reply refused", "no reply to " + where + ": " + why);
    return;
  }
  if (arrival.guarded && !unix_socket) {
    size_t bound = ReflectionBound(arrival.request_bytes);
    if (reply.size() > bound) {
      LogThrottled("reply cut", "reply to " + where + " cut from " + std::to_string(reply.size()) +
                                    " to " + std::to_string(bound) +
                                    " bytes (reflection_guard: at most " +
                                    std::to_string(kReflectionFactor) + " x the request's " +
                                    std::to_string(arrival.request_bytes) + ")");
      reply.resize(bound);
    }
  }
  iovec data{reply.data(), reply.size()};
  msghdr message{};
  message.msg_name = to.get();
  message.msg_namelen = to.length;
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  // From the address the request was sent to: a "*" socket's route might pick another.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  if (arrival.v4) {
    in_pktinfo from{};
    from.ipi_spec_dst = arrival.v4->ipi_spec_dst;  // the request's local address (unicast)
    SetControl(&message, control, IPPROTO_IP, IP_PKTINFO, from);
  } else if (arrival.v6) {
    // Address and interface (link-local needs it).
    SetControl(&message, control, IPPROTO_IPV6, IPV6_PKTINFO, *arrival.v6);
  }
  if (sendmsg(listener_->fd.get(), &message, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
    // Datagrams are lossy: a full buffer or a gone UNIX peer loses this reply only.
    LogThrottled("reply lost", ErrnoMessage("sendmsg", "reply to " + where, errno));
  }
}

void DatagramReceiver::DropDenied(const std::string& kind, const std::string& what) {
  if (on_denied_) on_denied_();
  LogThrottled(kind, "denied " + what);
}

void DatagramReceiver::LogThrottled(const std::string& kind, const std::string& what) {
  log_throttle_.Note(kind, kLogNotice, service_->name + ": " + what);
}

}  // namespace gatehouse
