// ChildProcess: the supervisor's handle on one gatehouse-child of a service. It
// spawns the child (Boost.Process), sends the service definition, hands over
// connections, checks and logs every report, and restarts a child that died. The
// programs of a child that died run on (OrphanedPrograms). A child it cannot
// trust (a report out of turn, a pid not its own) is ended with its programs; one
// that stalls (connections it leaves unreported: ChildWatchdog) is ended alone;
// either is restarted. A reload or a stop makes it drain: no new connections,
// and the child exits when its programs have ended.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "common/event_loop.h"
#include "common/log_throttle.h"
#include "common/message_channel.h"
#include "common/message_table.h"
#include "common/output_pipe.h"
#include "common/wire.h"
#include "supervisor/child_watchdog.h"
#include "supervisor/datagram_receiver.h"
#include "supervisor/orphaned_programs.h"
#include "supervisor/program_output_log.h"
#include "supervisor/source_slots.h"

namespace gatehouse {

// Totals of one service since gatehouse started; reloads keep them (USR1 shows them).
struct ServiceCounters {
  uint64_t served = 0;        // connections handed to a child
  uint64_t denied = 0;        // refused by the access rules
  uint64_t failed = 0;        // refused for want of a child, or the program could not start
  uint64_t exit_nonzero = 0;  // programs that ended with a non-zero status or a signal
};

class ChildProcess {
 public:
  enum class State { kStarting, kReady, kRestarting, kDraining, kEnded };

  // `counters` and `orphans` belong to the service and outlive the child (the
  // programs of a child that died go to `orphans`); `on_state_change` runs
  // whenever state() or connections() changes (the service then starts or stops
  // accepting).
  ChildProcess(event_base* base, std::shared_ptr<const ServiceConfig> service,
               std::string child_program, ServiceCounters* counters, OrphanedPrograms* orphans,
               std::function<void()> on_state_change);
  ~ChildProcess();

  // Spawns the child and queues its definition. False (logged, and a retry
  // scheduled) if it cannot.
  bool Start();
  // Hands a connection to the child. False when the child cannot take it now
  // (not running, or too far behind); the connection is then closed.
  bool Dispatch(UniqueFd connection, const ConnectionInfo& info, const std::string& peer,
                SourceSlots::Slot slot = {});
  // Hands a datagram (mode datagram, UDP built-ins) to the child, tracked like a
  // connection until its ProgramExited; its DatagramReply goes to `reply`. False
  // when the child cannot take it now (the datagram is dropped).
  bool DispatchDatagram(const Datagram& datagram, const std::string& peer,
                        DatagramReplySender reply);
  // TLS services: reads the certificate and key files again and sends them to the
  // child (on start and on every reload; its new connections get them).
  void SendTlsFiles();
  // Asks the child to take no more connections and exit once its programs end
  // (with `end_programs`, at once: TERM to the programs, KILL after the grace).
  void Drain(bool end_programs);
  void Signal(int signal);
  // Called by the supervisor when it reaped this child.
  void OnExit(int wait_status);
  // The supervisor reaped `pid`: true when it was a program of this child that
  // ended as the child died, before the child itself was reaped (logged, forgotten).
  bool ProgramReaped(pid_t pid, int wait_status);

  State state() const { return state_; }
  static const char* StateName(State state);
  pid_t pid() const { return pid_; }
  // Its serving process (the namespace's init, or the child itself); 0 before Ready.
  pid_t serving_pid() const { return serving_pid_; }
  // The processes its programs make up: everything below its serving process
  // but the namespace's keeper (the child's own).
  size_t ProcessesOf(const ProcessCensus& census) const;
  bool running() const { return pid_ > 0; }
  size_t connections() const { return connections_.size(); }
  const std::string& name() const { return service_->name; }
  const ServiceConfig& config() const { return *service_; }

  // mode = wait. True once the child is ready and has not yet been given the
  // listening sockets (again after each restart of the child).
  bool AwaitsListeners() const;
  // Passes the service's listening sockets to the child, one ListenFd each (a
  // duplicate, made blocking as systemd and inetd pass them), each named after
  // the service; its program is then reported under kListenersConnectionId.
  void SendListeners(const std::vector<int>& listening_fds);
  // USR1: "program 812 running" or "program not running" (mode = wait).
  std::string WaitProgramStatus() const;

 private:
  struct Connection {
    std::string peer;
    pid_t program = 0;       // as the child names it (its namespace's pid; kInProcess: a built-in)
    pid_t host_pid = 0;      // as we see it, from the pidfd (0: ended before we looked)
    SourceSlots::Slot slot;  // its place in per_source, given back with the entry
    bool started = false;    // ProgramStarted came (its pid may be kInProcess)
    DatagramReplySender reply;  // a datagram's way back; empty for a connection
    bool replied = false;       // one DatagramReply per datagram
    std::string source;         // the client, as its log lines are throttled (SourceOf)
    double started_at = 0;      // MonotonicSeconds() when its ProgramStarted came
    UniqueFd stderr_read;       // its stderr pipe (ProgramStderr), read only if the child dies
  };
  // Sends a connection or datagram and tracks it under `id` (the caller fills in
  // the entry). nullptr when the child cannot take it now (not running,
  // draining, or too far behind): logged throttled after `refused` ("PEER
  // refused: ") and counted as failed.
  Connection* HandOver(MessageType type, const std::string& payload, UniqueFd fd, uint64_t id,
                       const std::string& refused);

  void OnMessage(WireMessage& message);
  void OnChannelClosed(const std::string& reason);
  void ProtocolViolation(const std::string& what);
  // Ends a child, saying `why`: KILL to the child, which is then reaped and
  // restarted as after a crash. One that can no longer be trusted
  // (`end_programs`) takes its programs with it: TERM to those it reported (still
  // its own), its namespace let go, its connections forgotten. A stalled one
  // leaves them running, as a crash does.
  void EndChild(const std::string& why, bool end_programs);
  // The child has died: its running programs go on as orphans of the service.
  void AdoptOrphans();
  // The child has died: what we handed over and it never took (still in its
  // socket, or still in our queue) waits in requeued_ for the next child.
  void RecoverUntaken();
  // The next child is ready: it gets what the last one never took.
  void HandOverRequeued();
  // Arms the restart timer with the current back-off (1 s, doubling to 30 s).
  void ScheduleRestart();
  static void OnRestartTimer(evutil_socket_t, short, void* self);
  // In a PID namespace the child keeps each program unreaped until we have read
  // its ProgramStarted (and its pidfd): one ProgramsNoted per batch of reports.
  void NoteProgramStarted();
  static void OnNoteStarts(evutil_socket_t, short, void* self);

  void SetState(State state);
  void ProgramsChanged();
  // A report that the wait program ended or could not start: its entry stays
  // for the next start (the child restarts it). False for any other connection.
  bool KeepWaitProgramEntry(Connection& entry, uint64_t connection_id);
  // The child died unexpectedly while its wait program ran: that program, now
  // ours, still holds the listening sockets, so it is killed before a new child
  // starts another.
  void EndOrphanedWaitProgram();

  event_base* base_;
  std::shared_ptr<const ServiceConfig> service_;
  std::string child_program_;
  ServiceCounters* counters_;
  OrphanedPrograms* orphans_;
  std::function<void()> on_state_change_;
  State state_ = State::kStarting;
  std::unique_ptr<MessageChannel> channel_;
  std::unique_ptr<ProgramOutputLog> output_log_;  // its programs' stderr and its own
  std::unique_ptr<OutputPipe> child_stderr_;      // the child's stdout and stderr
  // The write end of the pipe the keeper of the child's namespace watches: held
  // while the namespace is needed (the child or its orphaned programs run).
  UniqueFd lifeline_;
  // A copy of the child's end of the control socket: when the child dies, what
  // it never read is still there to read back (the kernel's queue decides what
  // was taken: never lost, never run twice).
  UniqueFd child_end_;
  // Connections and datagrams a dead child never took, their entries kept in
  // connections_ (still counted), for the next child.
  std::deque<std::pair<uint64_t, MessageChannel::Outgoing>> requeued_;
  EventPtr restart_timer_;
  EventPtr note_starts_;       // sends ProgramsNoted once the reports read now are handled
  uint64_t starts_read_ = 0;   // ProgramStarted of a process read on this link
  uint64_t starts_noted_ = 0;  // what the last ProgramsNoted said
  pid_t pid_ = 0;
  pid_t serving_pid_ = 0;  // the child's serving process (namespace init), from Ready's pidfd
  std::unordered_map<pid_t, pid_t> host_pid_of_;      // program: child's pid -> ours
  std::unordered_map<pid_t, std::string> source_of_;  // program: child's pid -> its client
  bool listeners_sent_ = false;  // mode = wait: this start of the child has its ListenFds
  bool reaped_ = false;  // pid_ has exited and been reaped (its last reports are being read)
  LinkState link_state_ = LinkState::kStarting;  // what the child may say next (message table)
  double restart_delay_ = 1;
  double started_ = 0;  // MonotonicSeconds() at the last start
  std::map<uint64_t, Connection> connections_;
  // Connections handed over and not yet reported started (or failed).
  ChildWatchdog report_watchdog_;
  LogThrottle log_throttle_;  // refusals and failed programs: clients can repeat them
};

// Whether children put their service in its own namespaces (decided once, at start).
void UseServiceNamespaces(bool available);
// Raises gatehouse's soft RLIMIT_NOFILE to the hard limit (its children's too),
// at start and after each reload (the hard limit may have changed); programs get
// the soft limit gatehouse was started with back (or rlimit_nofile).
void RaiseFileLimit();

// "exit 1", "signal Killed": a wait status for the log.
std::string DescribeWaitStatus(int status);

}  // namespace gatehouse
