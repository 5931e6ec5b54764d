// ChildProcess: the supervisor's handle on one service's gatehouse-child. It
// spawns the child (Boost.Process), sends the service definition, hands over
// connections, checks and logs every report, and restarts a child that died.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/event_loop.h"
#include "common/message_channel.h"
#include "common/message_table.h"
#include "common/wire.h"

namespace gatehouse {

class ChildProcess {
 public:
  ChildProcess(event_base* base, const ServiceConfig& service, std::string child_program);
  ~ChildProcess();

  // Spawns the child and queues its definition. False (logged, and a retry
  // scheduled) if it cannot.
  bool Start();
  // Hands a connection to the child. False when the child cannot take it now
  // (not running, or too far behind); the connection is then closed.
  bool Dispatch(UniqueFd connection, const ConnectionInfo& info, const std::string& peer);
  // Asks the child to take no more connections and exit once its programs end.
  void Shutdown();
  void Signal(int signal);
  // Called by the supervisor when it reaped this child.
  void OnExit(int wait_status);

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  size_t connections() const { return connections_.size(); }
  const std::string& name() const { return service_.name; }

 private:
  struct Connection {
    std::string peer;
    pid_t program = 0;
  };

  void OnMessage(WireMessage& message);
  void OnChannelClosed(const std::string& reason);
  void ProtocolViolation(const std::string& what);
  // Arms the restart timer with the current back-off (1 s, doubling to 30 s).
  void ScheduleRestart();
  static void OnRestartTimer(evutil_socket_t, short, void* self);

  event_base* base_;
  ServiceConfig service_;
  std::string child_program_;
  std::unique_ptr<MessageChannel> channel_;
  EventPtr restart_timer_;
  pid_t pid_ = 0;
  LinkState link_state_ = LinkState::kStarting;  // what the child may say next (message table)
  bool stopping_ = false;
  double restart_delay_ = 1;
  double started_ = 0;  // MonotonicSeconds() at the last start
  std::map<uint64_t, Connection> connections_;
};

// Where gatehouse-child is: beside gatehouse, or ../child/ in the build tree.
std::string FindChildProgram();

}  // namespace gatehouse
