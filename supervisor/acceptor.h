// Acceptor: owns one listener and accepts on it in batches, reads a PROXY header
// when the service expects one (bounded, without blocking), applies its service's
// access rules (with a reverse lookup when asked), and hands admitted connections
// on. A reload re-attaches it to the service's new config without closing the
// socket; while the service cannot take connections it stops accepting, and
// clients wait in the kernel's backlog.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/config.h"
#include "common/event_loop.h"
#include "common/log_throttle.h"
#include "common/wire.h"
#include "supervisor/listener.h"
#include "supervisor/reverse_resolver.h"

namespace gatehouse {

class Acceptor {
 public:
  // Receives each admitted connection with its header; `peer` is for log lines.
  using Dispatch =
      std::function<void(UniqueFd connection, const ConnectionInfo& info, const std::string& peer)>;

  // `resolver` serves services with reverse_lookups; it must outlive the acceptor.
  // The acceptor accepts nothing until attached and told to accept.
  Acceptor(event_base* base, Listener listener, ReverseResolver* resolver);
  ~Acceptor();

  // The service this listener now serves: its rules and where connections go.
  // `on_denied` counts each peer the rules refuse.
  void Attach(std::shared_ptr<const ServiceConfig> service, Dispatch dispatch,
              std::function<void()> on_denied);
  // Accept (true) or leave clients in the backlog (false).
  void SetAccepting(bool accepting);
  const Listener& listener() const { return *listener_; }
  Listener& listener() { return *listener_; }
  bool attached() const { return service_ != nullptr; }
  const std::string& service_name() const { return service_->name; }

 private:
  // Who a connection is from and to: its socket's ends, or what its PROXY header
  // named (then `via` is the proxy's address, for log lines).
  struct ClientEnds {
    SocketAddress peer;
    std::optional<SocketAddress> local;  // nullopt: the socket's own
    std::string via;
  };
  struct PendingHeader;

  static void OnReadable(evutil_socket_t fd, short what, void* self);
  static void OnResume(evutil_socket_t fd, short what, void* self);
  static void OnHeaderEvent(evutil_socket_t fd, short what, void* pending);
  void AcceptBatch();
  void Admit(UniqueFd connection, const SocketAddress& peer);
  // proxy_from, the bounds on pending headers, then the first read.
  void AwaitProxyHeader(UniqueFd connection, const SocketAddress& peer);
  // Reads what has come of a pending header; on a verdict, ends its wait.
  void ContinueHeader(PendingHeader* pending, bool timed_out);
  void LookUpName(UniqueFd connection, const ClientEnds& client);
  // Logs the refusal ("SERVICE: denied WHAT") and counts it; a flood's lines are
  // throttled by `kind` (the client's address, or a fixed name when one
  // bound refuses everyone).
  void Deny(const std::string& kind, const std::string& what);
  void Decide(UniqueFd connection, const ClientEnds& client,
              const std::optional<std::string>& host);

  std::unique_ptr<Listener> listener_;
  std::shared_ptr<const ServiceConfig> service_;
  ReverseResolver* resolver_;
  Dispatch dispatch_;
  std::function<void()> on_denied_;
  // Lookups answered after this acceptor is gone find it expired and drop the fd.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  EventPtr accept_event_;
  EventPtr resume_timer_;
  bool accepting_ = false;
  // Connections whose PROXY header is still coming, by a key of their own.
  std::map<uint64_t, std::unique_ptr<PendingHeader>> pending_headers_;
  uint64_t next_pending_key_ = 0;
  LogThrottle log_throttle_;
};

// Writes banner_fail or busy_message to a refused client, best effort: one
// non-blocking send, whatever does not fit is dropped; the caller then closes.
void WriteRefusalText(int fd, const std::string& text);

// A process-wide connection counter: the id in every Connection message.
uint64_t NextConnectionId();

}  // namespace gatehouse
