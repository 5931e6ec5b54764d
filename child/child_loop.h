// ChildLoop: the serving loop of gatehouse-child, after the privilege drop (the
// supervisor's end of the link is ChildProcess). For each connection fd the
// supervisor passes, it starts the program (for each datagram, a program on two
// pipes: child/datagram_program.h; mode = wait: one program for the listening
// sockets, WaitProgram), and it reports every start and exit back; it reaps its
// programs and ends them on TERM.
#pragma once

#include <sys/types.h>

#include <deque>
#include <map>
#include <memory>
#include <string>

#include "child/builtin_server.h"
#include "child/datagram_program.h"
#include "child/dev_log.h"
#include "child/program_deadlines.h"
#include "child/program_stderr.h"
#include "child/service_namespaces.h"
#include "child/tls_terminator.h"
#include "child/wait_program.h"
#include "common/event_loop.h"
#include "common/message_channel.h"
#include "common/message_table.h"
#include "common/wire.h"

namespace gatehouse {

class ChildLoop {
 public:
  // `null_fd`: /dev/null for stderr = null (opened before the chroot), else empty.
  // `keeper`: the service's PID namespace (empty without one).
  ChildLoop(event_base* base, UniqueFd control, ServiceDefinition service, UniqueFd null_fd,
            NamespaceKeeper keeper = NamespaceKeeper());
  // Serves until told to stop (Shutdown, TERM, or the supervisor gone) and every
  // program has ended; then ends what they left in the namespace. Returns the
  // process exit code.
  int Run();
  // mode = builtin over UDP: answers one datagram in the child itself and reports
  // it as ProgramStarted, DatagramReply (unless the reply is empty), ProgramExited,
  // all with pid kInProcess.
  void AnswerDatagramInProcess(const Datagram& datagram);
  // Reads the service's /dev/log (BindDevLog) into the log while it serves.
  void ReadDevLog(UniqueFd socket);

 private:
  struct Running {
    uint64_t connection_id;
    double started;  // MonotonicSeconds()
    // In a PID namespace: the number of its ProgramStarted on the link. It is not
    // reaped before the supervisor has noted that many (ProgramsNoted): until then
    // its pidfd must name a process, or the supervisor cannot learn its pid.
    uint64_t start_number = 0;
  };
  // A connection received while the child had no fd left for a stderr pipe.
  struct Waiting {
    ConnectionInfo connection;
    UniqueFd fd;
    std::vector<std::string> tls_env;  // a TLS connection's SSL_ variables
  };

  void OnMessage(WireMessage& message);
  void OnChannelClosed(const std::string& reason);
  void StartConnection(WireMessage& message);
  // After the TLS handshake, if any: banner, then the built-in or the program.
  // `fd` is the client's socket, or the program's end of its TLS relay.
  void ServeConnection(const ConnectionInfo& connection, UniqueFd fd,
                       std::vector<std::string> tls_env);
  // New certificates and settings for the TLS connections from now on.
  void ReceiveTlsMaterial(WireMessage& message);
  // mode = builtin: serves the connection in this process (BuiltinServer).
  void ServeBuiltin(const ConnectionInfo& connection, UniqueFd fd);
  // Sends ProgramStarted for `connection_id` unless it has been sent.
  void ReportBuiltinStart(uint64_t connection_id);
  // Starts the program (and closes `fd`); false, keeping `fd`, when there is no
  // fd for its stderr pipe now.
  bool Launch(const ConnectionInfo& connection, UniqueFd& fd,
              const std::vector<std::string>& tls_env);
  // A program has started for `connection_id`: watched, timed and reported.
  void Adopt(pid_t pid, uint64_t connection_id, UniqueFd stderr_read);
  // mode = wait: one of the listening sockets.
  void ReceiveListenFd(WireMessage& message);
  // After a start: ProgramFailed (pid < 0, saying `error`), or the program is
  // tracked (exit, timeout, stderr) and ProgramStarted sent.
  void ReportStart(uint64_t connection_id, pid_t pid, UniqueFd stderr_read,
                   const std::string& error);
  // mode = datagram: a program per datagram; mode = builtin: answered in-process.
  void StartDatagram(WireMessage& message);
  // Starts what waited for fds, as far as they go now.
  void LaunchWaiting();
  void FailWaiting(const std::string& reason);
  void ReapPrograms();
  // Reaps the next ended child process (waitpid's order) and returns its pid; 0
  // when none may be reaped now: a program whose start the supervisor has not
  // noted yet holds the rest back until it has (one round trip).
  pid_t ReapNext(int* status);
  void OnProgramsNoted(WireMessage& message);
  // Ends what the programs left in the service's namespace (none: nothing to do).
  void SweepNamespaceIfAny();
  void StopAccepting();
  void EndPrograms(int signal);
  void FinishIfIdle();

  static void OnSigchld(evutil_socket_t, short, void* self);
  static void OnSigterm(evutil_socket_t fd, short, void* self);
  static void OnKillTimer(evutil_socket_t, short, void* self);

  event_base* base_;
  ServiceDefinition service_;
  UniqueFd null_fd_;
  NamespaceKeeper keeper_;
  std::unique_ptr<MessageChannel> channel_;
  std::unique_ptr<ProgramStderr> program_stderr_;
  std::unique_ptr<DevLogReader> dev_log_;  // dev_log = yes, in a namespace
  EventPtr sigchld_event_;
  UniqueFd term_fd_;  // SIGTERM, from the supervisor's side only
  EventPtr sigterm_event_;
  uint64_t refused_terms_ = 0;  // TERMs a program sent us
  EventPtr kill_timer_;
  std::map<pid_t, Running> running_;
  std::unique_ptr<ProgramDeadlines> deadlines_;          // timeout
  std::unique_ptr<DatagramPrograms> datagram_programs_;  // mode = datagram
  std::unique_ptr<WaitProgram> wait_program_;            // mode = wait only
  std::unique_ptr<BuiltinServer> builtin_;               // mode = builtin only
  std::unique_ptr<TlsTerminator> tls_;  // stream services; active once TlsMaterial came
  uint64_t starts_sent_ = 0;            // ProgramStarted with a pidfd sent on the link
  uint64_t starts_noted_ = 0;           // as many as the supervisor has read (ProgramsNoted)
  uint64_t unreported_start_ = 0;       // the built-in connection being started (ids start at 1)
  // While this holds any, the channel is not read: more connections wait in the
  // socket and the supervisor's queue (back-pressure), none is lost.
  std::deque<Waiting> waiting_;
  LinkState link_state_ = LinkState::kStarting;  // kReady once Run() has said so
  bool stopping_ = false;
  int exit_code_ = 0;
};

}  // namespace gatehouse
