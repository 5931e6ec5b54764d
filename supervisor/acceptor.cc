#include "supervisor/acceptor.h"

#include <sys/socket.h>

#include <cerrno>
#include <optional>

#include "common/log.h"
#include "common/monotonic_clock.h"
#include "common/sys_error.h"

namespace gatehouse {
namespace {

// Connections accepted per wake-up before other listeners get their turn.
constexpr int kAcceptBatch = 64;
// Pause after running out of fds or memory, instead of spinning on accept().
constexpr double kResourcePauseSeconds = 0.1;
constexpr double kResourceWarningSeconds = 10;

}  // namespace

uint64_t NextConnectionId() {
  static uint64_t next = 0;
  return ++next;
}

Acceptor::Acceptor(event_base* base, Listener listener, ReverseResolver* resolver)
    : listener_(std::make_unique<Listener>(std::move(listener))), resolver_(resolver) {
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
        // Logged at most every kResourceWarningSeconds: this can last a while.
        int err = errno;
        double now = MonotonicSeconds();
        ++resource_pauses_;
        if (resource_pauses_ == 1 || now - last_resource_warning_ >= kResourceWarningSeconds) {
          Log(kLogWarning, ErrnoMessage("accept", listener_->Describe(), err) +
                               "; pausing this listener briefly (" +
                               std::to_string(resource_pauses_) + " pauses so far)");
          last_resource_warning_ = now;
        }
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
  if (!service_->reverse_lookups || unix_socket) {
    Decide(std::move(connection), peer, std::nullopt);
    return;
  }
  auto pending = std::make_shared<UniqueFd>(std::move(connection));
  std::weak_ptr<bool> alive = alive_;
  resolver_->Lookup(peer, [this, alive, pending, peer](const PeerName& found) {
    if (alive.expired()) return;
    if (found.outcome == PeerName::kFailed) {
      // Fail closed: the name might have matched a deny rule.
      std::string why = " (lookup failed: " + found.reason + ")";
      if (service_->access.HasRegexRules()) {
        Deny(peer.ToString() + " on " + listener_->Describe() + why);
        return;  // closed by UniqueFd
      }
      Log(kLogInfo, service_->name + ": " + peer.ToString() + " goes on without a name" + why);
    }
    std::optional<std::string> host;
    if (found.outcome == PeerName::kName) host = found.name;
    Decide(std::move(*pending), peer, host);
  });
}

void Acceptor::Deny(const std::string& what) {
  Log(kLogNotice, service_->name + ": denied " + what);
  if (on_denied_) on_denied_();
}

void Acceptor::Decide(UniqueFd connection, const SocketAddress& peer,
                      const std::optional<std::string>& host) {
  bool unix_socket = listener_->spec.protocol == Protocol::kUnix;
  std::string shown = unix_socket ? listener_->spec.path : peer.ToString();
  if (host) shown += " (" + *host + ")";

  if (!service_->access.Admits(peer, host)) {
    Deny(shown + " on " + listener_->Describe());
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
    SocketAddress local = SocketAddress::Local(connection.get());
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
