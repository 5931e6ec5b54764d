#include "supervisor/acceptor.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <optional>

#include "common/log.h"
#include "common/monotonic_clock.h"
#include "common/sys_error.h"
#include "supervisor/proxy_header_reader.h"
#include "supervisor/source_slots.h"

namespace gatehouse {
namespace {

// Connections accepted per wake-up before other listeners get their turn.
constexpr int kAcceptBatch = 64;
// Pause after running out of fds or memory, instead of spinning on accept().
constexpr double kResourcePauseSeconds = 0.1;

ProxyVersions AcceptedVersions(ProxyProtocol protocol) {
  return ProxyVersions{protocol == ProxyProtocol::kV1 || protocol == ProxyProtocol::kAny,
                       protocol == ProxyProtocol::kV2 || protocol == ProxyProtocol::kAny};
}

// Denials of one client (IPv6: its /64) for one reason share a throttled kind;
// UNIX peers share one. `why` is a fixed word or a parser's reason with its
// numbers left out, so that a client cannot make up kinds without end.
std::string DenialKind(const SocketAddress& peer, bool unix_socket, const std::string& why) {
  std::string kind = (unix_socket ? std::string("unix") : SourceSlots::KeyOf(peer.Ip(), 64)) + " ";
  for (char c : why) {
    if (c < '0' || c > '9') kind += c;
  }
  return kind;
}

bool InAnyBlock(const std::vector<CidrBlock>& blocks, const SocketAddress& address) {
  for (const CidrBlock& block : blocks) {
    if (block.Contains(address)) return true;
  }
  return false;
}

}  // namespace

// A connection waiting for its PROXY header: its own read event, which also
// fires at the deadline, and its place under the bounds.
struct Acceptor::PendingHeader {
  PendingHeader(Acceptor* owner, uint64_t key, UniqueFd fd, const SocketAddress& peer,
                PendingHeaderSlot slot, ProxyVersions accepted, double deadline)
      : owner(owner),
        key(key),
        fd(std::move(fd)),
        peer(peer),
        slot(std::move(slot)),
        reader(accepted),
        deadline(deadline) {}

  Acceptor* owner;
  uint64_t key;
  UniqueFd fd;
  SocketAddress peer;
  PendingHeaderSlot slot;
  ProxyHeaderReader reader;
  double deadline;  // MonotonicSeconds()
  int timeout_seconds = 0;
  EventPtr event;
};

void WriteRefusalText(int fd, const std::string& text) {
  if (text.empty()) return;
  ssize_t sent = send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)sent;  // best effort: the supervisor never waits on a refused client
}

uint64_t NextConnectionId() {
  static uint64_t next = 0;
  return ++next;
}

Acceptor::Acceptor(event_base* base, Listener listener, ReverseResolver* resolver)
    : listener_(std::make_unique<Listener>(std::move(listener))),
      resolver_(resolver),
      log_throttle_(base) {
  accept_event_.reset(event_new(base, listener_->fd.get(), EV_READ | EV_PERSIST, OnReadable, this));
  resume_timer_.reset(evtimer_new(base, OnResume, this));
}

Acceptor::~Acceptor() = default;

void Acceptor::Attach(std::shared_ptr<const ServiceConfig> service, Dispatch dispatch,
                      std::function<void()> on_denied) {
  service_ = std::move(service);
  dispatch_ = std::move(dispatch);
  on_denied_ = std::move(on_denied);
  SetBacklog(*listener_, service_->listen);
  // A reload or an upgrade may change unix_mode/unix_owner/unix_group of a kept socket.
  std::string error;
  if (!ApplyUnixSocketOwnership(*listener_, *service_, &error)) {
    Log(kLogErr, service_->name + ": " + error);
  }
}

void Acceptor::SetAccepting(bool accepting) {
  if (accepting == accepting_) return;
  accepting_ = accepting;
  event_del(resume_timer_.get());
  if (accepting) {
    event_add(accept_event_.get(), nullptr);
  } else {
    event_del(accept_event_.get());
  }
}

void Acceptor::OnReadable(evutil_socket_t, short, void* self) {
  static_cast<Acceptor*>(self)->AcceptBatch();
}

void Acceptor::OnResume(evutil_socket_t, short, void* self) {
  auto* acceptor = static_cast<Acceptor*>(self);
  if (acceptor->accepting_) event_add(acceptor->accept_event_.get(), nullptr);
}

void Acceptor::AcceptBatch() {
  // The socket's O_NONBLOCK is shared with every copy of it: a wait program that
  // held it before a reload changed the mode may have cleared it, and one accept
  // on a blocking socket would stop the whole supervisor.
  int flags = fcntl(listener_->fd.get(), F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) == 0) {
    fcntl(listener_->fd.get(), F_SETFL, flags | O_NONBLOCK);
  }
  // A batch may end in a dispatch that stops this acceptor (the child fell behind).
  for (int i = 0; i < kAcceptBatch && accepting_; ++i) {
    SocketAddress peer;
    peer.length = sizeof peer.storage;
    // Blocking sockets for the program (SOCK_NONBLOCK not set), close-on-exec for us.
    int fd = accept4(listener_->fd.get(), peer.get(), &peer.length, SOCK_CLOEXEC);
    if (fd >= 0) {
      Admit(UniqueFd(fd), peer);
      continue;
    }
    switch (errno) {
      case EAGAIN:
      case EINTR:
        return;
      case ECONNABORTED:
      case EPROTO:
      case EPERM:
        continue;  // that client is gone or was filtered; take the next
      case EMFILE:
      case ENFILE:
      case ENOBUFS:
      case ENOMEM: {
        // Throttled: this can last a while.
        log_throttle_.Note(
            "accept", kLogWarning,
            ErrnoMessage("accept", listener_->Describe(), errno) + "; pausing this listener for " +
                std::to_string(static_cast<int>(kResourcePauseSeconds * 1000)) + " ms");
        event_del(accept_event_.get());
        timeval pause = Seconds(kResourcePauseSeconds);
        event_add(resume_timer_.get(), &pause);
        return;
      }
      default:
        Log(kLogErr, ErrnoMessage("accept", listener_->Describe(), errno));
        return;
    }
  }
}

void Acceptor::Admit(UniqueFd connection, const SocketAddress& peer) {
  bool unix_socket = listener_->spec.protocol == Protocol::kUnix;
  if (service_->proxy_protocol != ProxyProtocol::kOff && !unix_socket) {
    AwaitProxyHeader(std::move(connection), peer);
    return;
  }
  LookUpName(std::move(connection), ClientEnds{peer, std::nullopt, ""});
}

void Acceptor::AwaitProxyHeader(UniqueFd connection, const SocketAddress& peer) {
  std::string where = peer.ToString() + " on " + listener_->Describe();
  if (!service_->proxy_from.empty() && !InAnyBlock(service_->proxy_from, peer)) {
    Deny(DenialKind(peer, false, "proxy_from"),
         where + ": not in proxy_from, so it may not send a PROXY header");
    return;  // closed by UniqueFd
  }
  std::string why;
  std::optional<PendingHeaderSlot> slot = PendingHeaderSlot::Take(peer, &why);
  if (!slot) {
    Deny("over bound", where + ": " + why);
    return;
  }
  uint64_t key = ++next_pending_key_;
  auto pending = std::make_unique<PendingHeader>(
      this, key, std::move(connection), peer, std::move(*slot),
      AcceptedVersions(service_->proxy_protocol), MonotonicSeconds() + service_->proxy_timeout);
  pending->timeout_seconds = service_->proxy_timeout;
  pending->event.reset(event_new(event_get_base(accept_event_.get()), pending->fd.get(), EV_READ,
                                 OnHeaderEvent, pending.get()));
  PendingHeader* waiting = pending.get();
  pending_headers_.emplace(key, std::move(pending));
  // The header usually comes with the connection: read before waiting.
  ContinueHeader(waiting, false);
}

void Acceptor::OnHeaderEvent(evutil_socket_t, short what, void* pending) {
  auto* waiting = static_cast<PendingHeader*>(pending);
  waiting->owner->ContinueHeader(waiting, (what & EV_TIMEOUT) != 0);
}

void Acceptor::ContinueHeader(PendingHeader* pending, bool timed_out) {
  ProxyHeader::Outcome outcome = ProxyHeader::kNeedMore;
  if (!timed_out) outcome = pending->reader.ReadAvailable(pending->fd.get());
  double left = pending->deadline - MonotonicSeconds();
  if (outcome == ProxyHeader::kNeedMore && left > 0) {
    timeval wait = Seconds(left);
    event_add(pending->event.get(), &wait);
    return;
  }
  // A verdict: the wait ends here, and the event with it (after this call).
  auto found = pending_headers_.find(pending->key);
  std::unique_ptr<PendingHeader> done = std::move(found->second);
  pending_headers_.erase(found);
  std::string where = done->peer.ToString() + " on " + listener_->Describe();
  if (outcome == ProxyHeader::kNeedMore) {
    Deny(DenialKind(done->peer, false, "header timeout"),
         where + ": no complete PROXY header within " + std::to_string(done->timeout_seconds) +
             " s (" + std::to_string(done->reader.bytes_read()) + " bytes came)");
    return;
  }
  const ProxyHeader& header = done->reader.header();
  if (outcome == ProxyHeader::kInvalid && done->reader.left_silently()) {
    Deny("left silently", where + ": " + header.reason);
    return;
  }
  if (outcome == ProxyHeader::kInvalid) {
    Deny(DenialKind(done->peer, false, "bad header " + header.reason),
         where + ": bad PROXY header: " + header.reason);
    return;
  }
  if (header.local && service_->proxy_local_close) {
    // A load balancer's health check: answered by the close, as often as it comes.
    log_throttle_.Note("proxy local", kLogInfo,
                       service_->name + ": " + where + ": PROXY " +
                           (header.version == 1 ? "UNKNOWN" : "LOCAL") +
                           " header closed (proxy_local = close)");
    return;  // closed by UniqueFd
  }
  // UNKNOWN and LOCAL: the proxy speaks for itself; the socket's own ends stand.
  ClientEnds client{done->peer, std::nullopt, ""};
  if (header.has_addresses) {
    client = ClientEnds{header.source, header.destination, done->peer.ToString()};
  }
  LookUpName(std::move(done->fd), client);
}

void Acceptor::LookUpName(UniqueFd connection, const ClientEnds& client) {
  bool unix_socket = listener_->spec.protocol == Protocol::kUnix;
  if (!service_->reverse_lookups || unix_socket) {
    Decide(std::move(connection), client, std::nullopt);
    return;
  }
  auto pending = std::make_shared<UniqueFd>(std::move(connection));
  std::weak_ptr<bool> alive = alive_;
  resolver_->Lookup(client.peer, [this, alive, pending, client](const PeerName& found) {
    if (alive.expired()) return;
    if (found.outcome == PeerName::kFailed) {
      // Fail closed: the name might have matched a deny rule.
      std::string why = " (lookup failed: " + found.reason + ")";
      if (service_->access.HasRegexRules()) {
        WriteRefusalText(pending->get(), service_->banner_fail);
        Deny(DenialKind(client.peer, false, "lookup failed"),
             client.peer.ToString() + " on " + listener_->Describe() + why);
        return;  // closed by UniqueFd
      }
      Log(kLogInfo,
          service_->name + ": " + client.peer.ToString() + " goes on without a name" + why);
    }
    std::optional<std::string> host;
    if (found.outcome == PeerName::kName) host = found.name;
    Decide(std::move(*pending), client, host);
  });
}

void Acceptor::Deny(const std::string& kind, const std::string& what) {
  log_throttle_.Note(kind, kLogNotice, service_->name + ": denied " + what);
  if (on_denied_) on_denied_();
}

void Acceptor::Decide(UniqueFd connection, const ClientEnds& client,
                      const std::optional<std::string>& host) {
  bool unix_socket = listener_->spec.protocol == Protocol::kUnix;
  const SocketAddress& peer = client.peer;
  std::string shown = unix_socket ? listener_->spec.path : peer.ToString();
  if (host) shown += " (" + *host + ")";
  if (!client.via.empty()) shown += " via " + client.via;

  if (!service_->access.Admits(peer, host)) {
    WriteRefusalText(connection.get(), service_->banner_fail);
    Deny(DenialKind(peer, unix_socket, "rules"), shown + " on " + listener_->Describe());
    return;  // closed by UniqueFd
  }
  ConnectionInfo info;
  info.id = NextConnectionId();
  if (unix_socket) {
    info.proto = "UNIX";
    ucred credentials{};
    socklen_t length = sizeof credentials;
    if (getsockopt(connection.get(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0) {
      info.unix_pid = credentials.pid;
      info.unix_uid = static_cast<int32_t>(credentials.uid);
      info.unix_gid = static_cast<int32_t>(credentials.gid);
      shown += " (pid " + std::to_string(credentials.pid) + " uid " +
               std::to_string(credentials.uid) + ")";
    }
  } else {
    SocketAddress local = client.local ? *client.local : SocketAddress::Local(connection.get());
    info.proto = "TCP";
    info.peer_ip = peer.Ip();
    info.peer_port = peer.Port();
    info.local_ip = local.Ip();
    info.local_port = local.Port();
    info.remote_host = host.value_or("");
  }
  dispatch_(std::move(connection), info, shown);
}

}  // namespace gatehouse
