// Acceptor: accepts on one listener in batches, applies the service's access
// rules (with a reverse lookup when asked), and hands admitted connections on.
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
  Acceptor(event_base* base, Listener* listener, const ServiceConfig* service,
           ReverseResolver* resolver, Dispatch dispatch);

  void Stop();

 private:
  static void OnReadable(evutil_socket_t fd, short what, void* self);
  static void OnResume(evutil_socket_t fd, short what, void* self);
  void AcceptBatch();
  void Admit(UniqueFd connection, const SocketAddress& peer);
  void Decide(UniqueFd connection, const SocketAddress& peer,
              const std::optional<std::string>& host);

  Listener* listener_;
  const ServiceConfig* service_;
  ReverseResolver* resolver_;
  Dispatch dispatch_;
  // Lookups answered after this acceptor is gone find it expired and drop the fd.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  EventPtr accept_event_;
  EventPtr resume_timer_;
  uint64_t resource_pauses_ = 0;
  double last_resource_warning_ = 0;  // MonotonicSeconds()
};

// A process-wide connection counter: the id in every Connection message.
uint64_t NextConnectionId();

}  // namespace gatehouse
