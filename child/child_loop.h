// ChildLoop: the serving loop of gatehouse-child, after the privilege drop (the
// supervisor's end of the link is ChildProcess). For each connection fd the
// supervisor passes, it starts the program, and it reports every start and exit
// back; it reaps its programs and ends them on TERM.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "child/program_stderr.h"
#include "common/event_loop.h"
#include "common/message_channel.h"
#include "common/message_table.h"
#include "common/wire.h"

namespace gatehouse {

class ChildLoop {
 public:
  ChildLoop(event_base* base, UniqueFd control, ServiceDefinition service);
  // Serves until told to stop (Shutdown, TERM, or the supervisor gone) and every
  // program has ended. Returns the process exit code.
  int Run();

 private:
  struct Running {
    uint64_t connection_id;
    double started;  // MonotonicSeconds()
  };

  void OnMessage(WireMessage& message);
  void OnChannelClosed(const std::string& reason);
  void StartConnection(WireMessage& message);
  void ReapPrograms();
  void StopAccepting();
  void EndPrograms(int signal);
  void FinishIfIdle();

  static void OnSigchld(evutil_socket_t, short, void* self);
  static void OnSigterm(evutil_socket_t, short, void* self);
  static void OnKillTimer(evutil_socket_t, short, void* self);

  event_base* base_;
  ServiceDefinition service_;
  std::unique_ptr<MessageChannel> channel_;
  std::unique_ptr<ProgramStderr> program_stderr_;
  EventPtr sigchld_event_;
  EventPtr sigterm_event_;
  EventPtr kill_timer_;
  std::map<pid_t, Running> running_;
  LinkState link_state_ = LinkState::kStarting;  // kReady once Run() has said so
  bool stopping_ = false;
  int exit_code_ = 0;
};

}  // namespace gatehouse
