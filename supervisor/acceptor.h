// Acceptor: owns one listener and accepts on it in batches, applies its service's
// access rules (with a reverse lookup when asked), and hands admitted connections
// on. A reload re-attaches it to the service's new config without closing the
// socket; while the service cannot take connections it stops accepting, and
// clients wait in the kernel's backlog.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/config.h"
#include "common/event_loop.h"
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
  static void OnReadable(evutil_socket_t fd, short what, void* self);
  static void OnResume(evutil_socket_t fd, short what, void* self);
  void AcceptBatch();
  void Admit(UniqueFd connection, const SocketAddress& peer);
  // Logs the refusal ("SERVICE: denied WHAT") and counts it.
  void Deny(const std::string& what);
  void Decide(UniqueFd connection, const SocketAddress& peer,
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
  uint64_t resource_pauses_ = 0;
  double last_resource_warning_ = 0;  // MonotonicSeconds()
};

// A process-wide connection counter: the id in every Connection message.
uint64_t NextConnectionId();

}  // namespace gatehouse
