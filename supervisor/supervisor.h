// Supervisor: the privileged event loop. Owns the service table (one Service per
// name) and the listener table (Acceptors keyed by ListenerKey), brings both to
// a config with Apply() — at start and on every SIGHUP — and handles the signals
// (TERM/INT: graceful stop, QUIT: stop now, CHLD: reap, USR1: status, HUP: reload,
// USR2: binary upgrade). After upgrades it keeps a GenerationLink to every other
// gatehouse generation still running: older ones drain their sessions, counted
// here, and stop with this one.
#pragma once

#include <signal.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/event_loop.h"
#include "supervisor/acceptor.h"
#include "supervisor/datagram_receiver.h"
#include "supervisor/generation_link.h"
#include "supervisor/listener.h"
#include "supervisor/reverse_resolver.h"
#include "supervisor/service.h"
#include "supervisor/upgrade.h"

namespace gatehouse {

// Raises the soft RLIMIT_NOFILE to the hard limit read now and sizes the shared
// pools (pending PROXY headers, reverse lookups) from it: at start and after
// every reload, so that a hard limit lowered with prlimit is taken into account.
void UseFileLimits();

// TERM, INT, QUIT, HUP, USR1, USR2: what the supervisor's handlers take. Blocked
// while no handler is in place (before the loop's, after its end), a signal
// waits instead of taking its default action and ending gatehouse.
sigset_t ControlSignals();

class Supervisor {
 public:
  // `command_line` is kept to re-read the same files on SIGHUP; `image` is what
  // SIGUSR2 starts as the successor.
  Supervisor(CommandLine command_line, std::string child_program, ProcessImage image);
  ~Supervisor();

  // Brings the service and listener tables to `next`: `fresh` holds the
  // listeners `next` needs that are not bound yet (see BindListeners with
  // ListenerKeys()); listeners `next` no longer names are closed. Unchanged
  // services keep their child; changed ones get a new child while the old drains.
  void Apply(const Config& next, ListenerMap fresh);
  // Keys of the listeners bound now.
  std::set<std::string> ListenerKeys() const;
  // After a binary upgrade, before Apply: the links to the generations still
  // running; `predecessor` is the one this process replaces.
  void TakeOlderGenerations(std::vector<InheritedLink> links, pid_t predecessor);
  // After Apply: tells the predecessor that this process serves.
  void ReportReady();
  // Serves until stopped; returns the exit code.
  int Run();

 private:
  // Re-reads every file; on any error the running config stays, unchanged.
  void Reload();
  bool PrepareReload(Config* next, ListenerMap* fresh, std::vector<std::string>* errors,
                     std::vector<std::string>* warnings) const;
  bool DynamicUidsFree(const Config& next, std::vector<std::string>* errors) const;
  // Lets each listener accept exactly while its service has a ready child.
  void UpdateAccepting();
  // Apply's part for one datagram port: keeps or takes its receivers and
  // attaches them to `service`.
  void AttachDatagramPort(
      const std::string& key, const std::shared_ptr<Service>& service, ListenerMap* fresh,
      std::map<std::string, std::vector<std::unique_ptr<DatagramReceiver>>>* table);
  // Every bound socket, stream and datagram: `visit(key, listener, service name)`.
  template <typename Visit>
  void ForEachListener(Visit visit) const;
  void BeginShutdown(double grace_seconds, const char* why);
  void ReapChildren();
  // SIGUSR2: start the successor; once it serves, stop accepting and drain.
  void Upgrade();
  // The successor serves: no new connections, the running programs run on to
  // their end (or until the current generation stops).
  void HandOver();
  static void OnUpgradeTimeout(evutil_socket_t, short, void* self);
  // What a link's peer said or did (see generation_link.h).
  void OnLinkMessage(GenerationLink& link, GenerationMessage& message, UniqueFd fd);
  void OnLinkClosed(GenerationLink& link, const std::string& reason);
  GenerationLink* AddLink(UniqueFd socket, pid_t peer, Generation side);
  // Closed links go outside their own callbacks.
  void PruneLinksLater();
  static void OnPruneLinks(evutil_socket_t, short, void* self);
  // Our own programs per service, sent to the later generations when it changed.
  std::map<std::string, size_t> OwnPrograms() const;
  void SendProgramsIfChanged();
  // The table a new later link starts with, the same all the others have.
  std::string ProgramsTableForNewLink();
  // The older generations' programs, summed per service, into each Service.
  void CountOlderPrograms();
  bool OlderGenerationsRunning() const;
  static void OnOlderWaitOver(evutil_socket_t, short, void* self);
  void FinishIfDone();
  void LogStatus();
  // systemd: READY=1 once every child is ready or has failed its first start.
  void NotifyReadyOnceSettled();
  std::string StatusSummary() const;
  static void OnStartupTimeout(evutil_socket_t, short, void* self);

  static void OnSignal(evutil_socket_t signal, short what, void* self);
  static void OnPendingSignals(evutil_socket_t, short, void* self);
  static void OnGraceExpired(evutil_socket_t, short, void* self);
  static void OnKillTimer(evutil_socket_t, short, void* self);

  CommandLine command_line_;
  GlobalConfig global_;
  bool applying_ = false;  // inside Apply(): the tables are being rebuilt
  std::string child_program_;
  EventBasePtr base_;
  std::unique_ptr<ReverseResolver> resolver_;
  std::map<std::string, std::shared_ptr<Service>> services_;
  std::map<std::string, std::vector<std::unique_ptr<Acceptor>>> listeners_;
  // UDP and SOCK_DGRAM UNIX sockets, by the same keys.
  std::map<std::string, std::vector<std::unique_ptr<DatagramReceiver>>> datagram_listeners_;
  std::vector<EventPtr> signal_events_;
  // The signals received and not acted on yet (bit N: signal N), and the event
  // that acts on them once per loop pass (OnPendingSignals).
  uint64_t pending_signals_ = 0;
  EventPtr signals_event_;
  EventPtr grace_timer_;
  EventPtr kill_timer_;
  EventPtr startup_timer_;
  ProcessImage image_;
  pid_t successor_ = 0;            // started by USR2, not ready yet (ours until it is reaped)
  bool successor_killed_ = false;  // not ready within upgrade_timeout
  EventPtr upgrade_timer_;
  // Children that are not ours to end: those we had before we started anything
  // (a wrapper's background jobs, inherited across exec) and every later
  // generation (our successor's successors come to us, the subreaper, when their
  // parent ends before us).
  std::set<pid_t> spared_;
  // Links to the older generations still running (empty once this one has
  // handed over) and to the later ones.
  std::vector<std::unique_ptr<GenerationLink>> older_;
  std::vector<std::unique_ptr<GenerationLink>> later_;
  std::vector<std::unique_ptr<GenerationLink>> handed_on_;  // closing once sent
  pid_t predecessor_ = 0;
  std::map<std::string, size_t> programs_sent_;  // the table the later ones have
  EventPtr prune_event_;
  EventPtr older_wait_timer_;  // how long a stop waits for the older generations
  bool ready_notified_ = false;
  bool stopping_ = false;
  bool handed_over_ = false;     // a successor serves: we only drain
  bool stop_requested_ = false;  // a stop (signal, or the current generation's) is under way
};

}  // namespace gatehouse
