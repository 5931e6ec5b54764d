// Acceptor: accepts on one listener in batches, applies the service's access
// rules (with a reverse lookup when asked), and hands admitted connections on.
#pragma once

#include <functional>
#include <string>

#include "common/config.h"
#include "common/event_loop.h"
#include "common/wire.h"
#include "supervisor/listener.h"

namespace gatehouse {

class Acceptor {
 public:
  // Receives each admitted connection with its header; `peer` is for log lines.
  using Dispatch =
      std::function<void(UniqueFd connection, const ConnectionInfo& info, const std::string& peer)>;

  Acceptor(event_base* base, Listener* listener, const ServiceConfig* service, Dispatch dispatch);

  void Stop();

 private:
  static void OnReadable(evutil_socket_t fd, short what, void* self);
  static void OnResume(evutil_socket_t fd, short what, void* self);
  void AcceptBatch();
  void Admit(UniqueFd connection, const SocketAddress& peer);

  Listener* listener_;
  const ServiceConfig* service_;
  Dispatch dispatch_;
  EventPtr accept_event_;
  EventPtr resume_timer_;
};

// A process-wide connection counter: the id in every Connection message.
uint64_t NextConnectionId();

}  // namespace gatehouse
