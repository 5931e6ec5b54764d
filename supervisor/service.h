// Service: one row of the supervisor's service table, keyed by the service's
// name. It owns the service's current config snapshot, its counters and its
// children: the current one, which takes new connections, and older ones that a
// reload left draining (their programs still count for this service), and the
// programs of children that died, which run on (OrphanedPrograms).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/event_loop.h"
#include "common/log_throttle.h"
#include "supervisor/child_process.h"
#include "supervisor/orphaned_programs.h"
#include "supervisor/process_tree.h"
#include "supervisor/source_budget.h"
#include "supervisor/source_slots.h"

namespace gatehouse {

class Service {
 public:
  // `on_change` runs when whether the service can take connections may have
  // changed; it must not destroy the service.
  Service(event_base* base, std::string name, std::string child_program,
          std::function<void()> on_change);

  // Applies a config snapshot: the first one starts a child; a changed one starts
  // a new child and drains the old one (its programs end only with
  // reload_programs = end). False when `config` is the same as the running one.
  bool Configure(std::shared_ptr<const ServiceConfig> config);
  // mode = wait: where the service's listening sockets are, in the order of its
  // ports (the supervisor owns them); asked when a child is ready for them.
  void SetListeningFds(std::function<std::vector<int>()> listening_fds);
  // The service was removed from the config: its child drains.
  void Retire();
  // Stops the service for shutdown: every child drains.
  void Shutdown();

  // A connection for the current child; closed and counted when it cannot take it.
  void Dispatch(UniqueFd connection, const ConnectionInfo& info, const std::string& peer);
  void CountDenied() { ++counters_.denied; }
  // A datagram for the current child (mode datagram, UDP built-ins). With
  // max_servers datagrams in flight it is dropped and counted as busy (logged
  // every 10 s): datagrams are not queued. Its UDP reply goes only within the
  // sender's udp_reply_budget; over it the reply is dropped, counted and logged
  // throttled.
  void DispatchDatagram(const Datagram& datagram, const std::string& peer,
                        DatagramReplySender reply);
  // True when its datagram sockets should be read: a child is ready (over
  // max_servers datagrams are dropped rather than left in the socket).
  bool receiving_datagrams() const;

  // True when its listeners should accept: a child is ready for connections.
  bool accepting() const;
  // False while the current child has not yet become ready nor failed its start.
  bool settled() const;
  // True when its current child is waiting to be restarted after a failure.
  bool restarting() const;
  // True when removed and every child has ended: the row can go.
  bool finished() const;
  bool retired() const { return config_ == nullptr; }
  const std::string& name() const { return name_; }
  // The running config; null once retired.
  const std::shared_ptr<const ServiceConfig>& config() const { return config_; }

  // Passes a reaped child's status on; false when `pid` is none of this service's.
  bool OnReaped(pid_t pid, int wait_status);
  void Signal(int signal);
  bool running() const;
  // Whether programs of this service (of the current child or a draining one)
  // run as `uid` now.
  bool HasProgramsAs(uint32_t uid) const;
  // Programs counted against max_servers: its own children's and those of the
  // service of the same name that older gatehouse generations still run.
  size_t programs() const { return own_programs() + older_programs_; }
  // Programs of this process's children (current and draining).
  size_t own_programs() const;
  // After a binary upgrade: the service's programs the older generations run.
  void SetOlderPrograms(size_t count) { older_programs_ = count; }
  // The longest kill_grace among its children's own configs, the draining ones'
  // included (a reload may have lowered it while their programs run).
  uint32_t LongestKillGrace() const;
  // The USR1 status line: "echo: mode fork, listeners ..., child 812 ready, ...",
  // with the processes of its children's programs as `census` found them.
  std::string Status(const std::string& listeners, const ProcessCensus& census) const;

 private:
  void DrainCurrent(bool end_programs);
  // Whether a change, removal or stop must end the running programs: as the
  // config says, and always for mode = wait, whose program shares the sockets.
  static bool MustEndPrograms(const ServiceConfig& running, const ServiceConfig* next);
  // A child (current or draining) changed: hand over listening sockets if due.
  void OnChildChanged();
  // mode = wait: gives the current child the listening sockets once it is
  // ready and no older child of the service still runs (two programs never
  // share the sockets).
  void HandOverListeners();
  // An older child of a mode = wait service still runs: the sockets are its
  // program's until it has ended.
  bool WaitChildDraining() const;
  // max_servers_action = reject at the limit: busy_message, counted, logged
  // throttled; the caller closes the connection.
  void RejectBusy(const UniqueFd& connection, const std::string& peer);
  // cps: counts this connection in the current second; over the rate, pauses.
  void CountForRate();
  static void OnPauseOver(evutil_socket_t, short, void* self);
  // The reply as the sender's udp_reply_budget lets it go.
  DatagramReplySender WithinReplyBudget(const Datagram& datagram, const std::string& peer,
                                        DatagramReplySender reply);
  bool HasUdpPort() const;

  // Replies over udp_reply_budget: shared with the replies still on their way,
  // which may come after a reload replaced the budget.
  struct DroppedReplies {
    explicit DroppedReplies(event_base* base) : log_throttle(base) {}
    uint64_t count = 0;
    LogThrottle log_throttle;
  };

  event_base* base_;
  std::string name_;
  std::string child_program_;
  std::function<void()> on_change_;
  std::function<std::vector<int>()> listening_fds_;
  std::shared_ptr<const ServiceConfig> config_;
  ServiceCounters counters_;
  OrphanedPrograms orphans_;  // before the children, which hand theirs to it
  std::unique_ptr<ChildProcess> current_;
  std::vector<std::unique_ptr<ChildProcess>> draining_;
  EventPtr pause_timer_;                        // cps: the service accepts again when it fires
  SourceSlots sources_;                         // per_source
  std::shared_ptr<SourceBudget> reply_budget_;  // null: udp_reply_budget = off
  std::shared_ptr<DroppedReplies> dropped_replies_;
  uint64_t busy_ = 0;          // clients rejected at max_servers (USR1: "busy N")
  size_t older_programs_ = 0;  // run by older gatehouse generations (binary upgrade)
  LogThrottle log_throttle_;   // per_source, busy, cps, removed
  bool paused_ = false;
  double second_started_ = 0;  // MonotonicSeconds() of the counted second
  int in_this_second_ = 0;
};

}  // namespace gatehouse
