// Supervisor: the privileged event loop. Owns the listeners, one acceptor per
// listener and one ChildProcess per service; handles the signals (TERM/INT:
// graceful stop, QUIT: stop now, CHLD: reap, USR1: status, HUP: reload).
#pragma once

#include <memory>
#include <vector>

#include "common/config.h"
#include "common/event_loop.h"
#include "supervisor/acceptor.h"
#include "supervisor/child_process.h"
#include "supervisor/listener.h"
#include "supervisor/reverse_resolver.h"

namespace gatehouse {

class Supervisor {
 public:
  Supervisor(Config config, std::vector<Listener> listeners, std::string child_program);
  ~Supervisor();
  // Starts the children, serves until stopped; returns the exit code.
  int Run();

 private:
  struct Service {
    ServiceConfig config;
    std::unique_ptr<ChildProcess> child;
  };

  void BeginShutdown(double grace_seconds, const char* why);
  void ReapChildren();
  void FinishIfDone();
  void LogStatus();

  static void OnSignal(evutil_socket_t signal, short what, void* self);
  static void OnGraceExpired(evutil_socket_t, short, void* self);
  static void OnKillTimer(evutil_socket_t, short, void* self);

  Config config_;
  std::vector<Listener> listeners_;
  std::string child_program_;
  EventBasePtr base_;
  std::unique_ptr<ReverseResolver> resolver_;
  std::vector<std::unique_ptr<Service>> services_;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::vector<EventPtr> signal_events_;
  EventPtr grace_timer_;
  EventPtr kill_timer_;
  bool stopping_ = false;
};

}  // namespace gatehouse
