#include "supervisor/supervisor.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/config/paths.h"
#include "common/fd_passing.h"
#include "common/log.h"
#include "common/monotonic_clock.h"
#include "common/sys_error.h"
#include "supervisor/daemon.h"
#include "supervisor/fd_budget.h"
#include "supervisor/isolation_check.h"
#include "supervisor/process_tree.h"
#include "supervisor/proxy_header_reader.h"
#include "supervisor/systemd_notify.h"

namespace gatehouse {
namespace {
// Our KILL to what is left comes this long after the children's own KILL.
constexpr double kKillAfterChildrenSeconds = 1;
// KILL is repeated this often while anything below us is left.
constexpr double kKillRepeatSeconds = 0.5;
// READY=1 goes out by then even if a child has not answered (STATUS says which).
constexpr double kStartupReportSeconds = 15;
// A stop waits this long for the older generations beyond its own KILL: they
// got the same grace and kill_grace, and end on their own.
constexpr double kOlderGenerationsExtraSeconds = 10;

// Both ends of a new generation link, close-on-exec.
bool LinkPair(UniqueFd* ours, UniqueFd* theirs, std::string* error) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    *error = ErrnoMessage("socketpair", "", errno);
    return false;
  }
  ours->reset(fds[0]);
  theirs->reset(fds[1]);
  return true;
}

LogTarget LogTargetOf(const GlobalConfig& global) {
  return LogTarget{global.log_file, global.log_level, global.syslog_ident, global.syslog_facility,
                   global.syslog_logopt};
}

// Global keys a running gatehouse cannot change: named when a reload changes them.
std::vector<std::string> RestartOnlyChanges(const GlobalConfig& now, const GlobalConfig& next) {
  std::vector<std::string> changed;
  if (now.pid_file != next.pid_file) changed.push_back("pid_file");
  if (now.background != next.background) changed.push_back("background");
  if (now.setsid != next.setsid) changed.push_back("setsid");
  return changed;
}

// After TERM each child KILLs its programs once the kill_grace of its own config
// is over (a draining child's may be longer than the current one); the
// supervisor's KILL (children that hang, orphaned programs) comes after all of them.
double KillAfterTermSeconds(const std::map<std::string, std::shared_ptr<Service>>& services) {
  uint32_t longest = 0;
  for (const auto& [name, service] : services) {
    longest = std::max(longest, service->LongestKillGrace());
  }
  return longest + kKillAfterChildrenSeconds;
}

// mode = wait: the service's listening sockets in the order of its ports (a
// spec may stand for several), as its program gets them on fds 3...; stream
// ones are the acceptors', datagram ones the receivers'.
std::vector<int> ListeningFdsOf(
    const ServiceConfig& config,
    const std::map<std::string, std::vector<std::unique_ptr<Acceptor>>>& listeners,
    const std::map<std::string, std::vector<std::unique_ptr<DatagramReceiver>>>& datagrams) {
  std::vector<int> fds;
  std::set<std::string> seen;
  for (const ServicePort& port : config.ports) {
    std::string key = ListenerKey(config.name, port.spec);
    if (!seen.insert(key).second) continue;
    if (auto found = listeners.find(key); found != listeners.end()) {
      for (const auto& acceptor : found->second) fds.push_back(acceptor->listener().fd.get());
    }
    if (auto found = datagrams.find(key); found != datagrams.end()) {
      for (const auto& receiver : found->second) fds.push_back(receiver->listener().fd.get());
    }
  }
  return fds;
}

}  // namespace

sigset_t ControlSignals() {
  sigset_t control;
  sigemptyset(&control);
  for (int signal : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2}) {
    sigaddset(&control, signal);
  }
  return control;
}

void UseFileLimits() {
  RaiseFileLimit();
  uint64_t pool = SharedPoolBound(CurrentFileLimits().hard);
  PendingHeaderSlot::SetTotal(static_cast<int>(pool));
  ReverseResolver::SetMaxPending(pool);
}

namespace {

// The signals gatehouse acts on, blocked for the rest of the process's life.
void BlockControlSignals() {
  sigset_t control = ControlSignals();
  sigprocmask(SIG_BLOCK, &control, nullptr);
}

}  // namespace

Supervisor::Supervisor(CommandLine command_line, std::string child_program, ProcessImage image)
    : command_line_(std::move(command_line)),
      child_program_(std::move(child_program)),
      base_(event_base_new()),
      resolver_(std::make_unique<ReverseResolver>(base_.get())),
      image_(std::move(image)) {
  for (int signal : {SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGHUP, SIGUSR1, SIGUSR2}) {
    signal_events_.emplace_back(evsignal_new(base_.get(), signal, OnSignal, this));
    event_add(signal_events_.back().get(), nullptr);
  }
  grace_timer_.reset(evtimer_new(base_.get(), OnGraceExpired, this));
  kill_timer_.reset(evtimer_new(base_.get(), OnKillTimer, this));
  startup_timer_.reset(evtimer_new(base_.get(), OnStartupTimeout, this));
  signals_event_.reset(event_new(base_.get(), -1, 0, OnPendingSignals, this));
  upgrade_timer_.reset(evtimer_new(base_.get(), OnUpgradeTimeout, this));
  prune_event_.reset(evtimer_new(base_.get(), OnPruneLinks, this));
  older_wait_timer_.reset(evtimer_new(base_.get(), OnOlderWaitOver, this));
  for (pid_t pid : OwnChildren()) spared_.insert(pid);
}

template <typename Visit>
void Supervisor::ForEachListener(Visit visit) const {
  for (const auto& [key, acceptors] : listeners_) {
    for (const auto& acceptor : acceptors) {
      visit(key, acceptor->listener(), acceptor->attached() ? acceptor->service_name() : "");
    }
  }
  for (const auto& [key, receivers] : datagram_listeners_) {
    for (const auto& receiver : receivers) {
      visit(key, receiver->listener(), receiver->attached() ? receiver->service_name() : "");
    }
  }
}

Supervisor::~Supervisor() {
  // Acceptors and children hold events of base_: free them before it.
  listeners_.clear();
  datagram_listeners_.clear();
  services_.clear();
  resolver_.reset();
  signal_events_.clear();
  grace_timer_.reset();
  kill_timer_.reset();
  startup_timer_.reset();
  signals_event_.reset();
  older_.clear();
  later_.clear();
  handed_on_.clear();
  upgrade_timer_.reset();
  prune_event_.reset();
  older_wait_timer_.reset();
}

std::set<std::string> Supervisor::ListenerKeys() const {
  std::set<std::string> keys;
  ForEachListener(
      [&](const std::string& key, const Listener&, const std::string&) { keys.insert(key); });
  return keys;
}

void Supervisor::Apply(const Config& next, ListenerMap fresh) {
  global_ = next.global;
  applying_ = true;  // the tables are in flux until the end

  // Services: unchanged ones keep their child, changed ones start a new one,
  // removed ones drain.
  std::set<std::string> names;
  for (const ServiceConfig& config : next.services) {
    names.insert(config.name);
    std::shared_ptr<Service>& service = services_[config.name];
    if (!service) {
      service = std::make_shared<Service>(base_.get(), config.name, child_program_,
                                          [this] { UpdateAccepting(); });
      std::weak_ptr<Service> weak = service;
      service->SetListeningFds([this, weak] {
        auto target = weak.lock();
        return target && target->config()
                   ? ListeningFdsOf(*target->config(), listeners_, datagram_listeners_)
                   : std::vector<int>{};
      });
    }
    service->Configure(std::make_shared<const ServiceConfig>(config));
  }
  for (auto& [name, service] : services_) {
    if (names.count(name) == 0) service->Retire();
  }

  // Listeners: a kept key keeps its socket; a new key takes what was just bound.
  std::map<std::string, std::vector<std::unique_ptr<Acceptor>>> table;
  std::map<std::string, std::vector<std::unique_ptr<DatagramReceiver>>> datagram_table;
  for (const ServiceConfig& config : next.services) {
    std::shared_ptr<Service> service = services_[config.name];
    std::weak_ptr<Service> weak = service;
    for (const ServicePort& port : config.ports) {
      std::string key = ListenerKey(config.name, port.spec);
      if (port.spec.datagram()) {
        AttachDatagramPort(key, service, &fresh, &datagram_table);
        continue;
      }
      std::vector<std::unique_ptr<Acceptor>>& acceptors = table[key];
      if (!acceptors.empty()) continue;  // the same spec twice in one service
      auto kept = listeners_.find(key);
      if (kept != listeners_.end()) {
        acceptors = std::move(kept->second);
        listeners_.erase(kept);
      } else {
        for (Listener& listener : fresh[key]) {
          acceptors.push_back(
              std::make_unique<Acceptor>(base_.get(), std::move(listener), resolver_.get()));
        }
      }
      for (auto& acceptor : acceptors) {
        bool moved = acceptor->attached() && acceptor->service_name() != config.name;
        bool announce = !acceptor->attached() || moved;
        acceptor->Attach(
            service->config(),
            [weak](UniqueFd connection, const ConnectionInfo& info, const std::string& peer) {
              if (auto target = weak.lock()) {
                target->Dispatch(std::move(connection), info, peer);
              }
            },
            [weak] {
              if (auto target = weak.lock()) target->CountDenied();
            });
        if (announce) {
          Log(kLogNotice, config.name + ": listening on " + acceptor->listener().Describe());
        }
      }
    }
  }
  // What the old table still holds is no longer wanted: closed once the new
  // table is in place.
  for (const auto& [key, acceptors] : listeners_) {
    for (const auto& acceptor : acceptors) {
      Log(kLogNotice, acceptor->service_name() + ": closed " + acceptor->listener().Describe());
    }
  }
  for (const auto& [key, receivers] : datagram_listeners_) {
    for (const auto& receiver : receivers) {
      Log(kLogNotice, receiver->service_name() + ": closed " + receiver->listener().Describe());
    }
  }
  listeners_ = std::move(table);
  datagram_listeners_ = std::move(datagram_table);
  // The reflection guard's loop check: the ports every UDP service is bound to
  // now. Any of them may answer (a datagram program such as cat answers like
  // echo), so two of them, or one with itself, would bounce a forged datagram.
  auto service_ports = std::make_shared<std::set<uint16_t>>();
  for (const auto& [key, receivers] : datagram_listeners_) {
    for (const auto& receiver : receivers) {
      if (receiver->listener().spec.protocol == Protocol::kUdp) {
        service_ports->insert(receiver->listener().address.Port());
      }
    }
  }
  for (auto& [key, receivers] : datagram_listeners_) {
    for (auto& receiver : receivers) receiver->SetServicePorts(service_ports);
  }

  for (auto it = services_.begin(); it != services_.end();) {
    it = it->second->finished() ? services_.erase(it) : std::next(it);
  }
  applying_ = false;
  CountOlderPrograms();  // a new service counts what the older generations run of it
  UpdateAccepting();
}

void Supervisor::AttachDatagramPort(
    const std::string& key, const std::shared_ptr<Service>& service, ListenerMap* fresh,
    std::map<std::string, std::vector<std::unique_ptr<DatagramReceiver>>>* table) {
  std::vector<std::unique_ptr<DatagramReceiver>>& receivers = (*table)[key];
  if (!receivers.empty()) return;  // the same spec twice in one service
  auto kept = datagram_listeners_.find(key);
  if (kept != datagram_listeners_.end()) {
    receivers = std::move(kept->second);
    datagram_listeners_.erase(kept);
  } else {
    for (Listener& listener : (*fresh)[key]) {
      receivers.push_back(
          std::make_unique<DatagramReceiver>(base_.get(), std::move(listener), resolver_.get()));
    }
  }
  std::weak_ptr<Service> weak = service;
  for (auto& receiver : receivers) {
    bool announce = !receiver->attached() || receiver->service_name() != service->name();
    receiver->Attach(
        service->config(),
        [weak](const Datagram& datagram, const std::string& peer, DatagramReplySender reply) {
          if (auto target = weak.lock()) target->DispatchDatagram(datagram, peer, std::move(reply));
        },
        [weak] {
          if (auto target = weak.lock()) target->CountDenied();
        });
    if (announce) {
      Log(kLogNotice, service->name() + ": listening on " + receiver->listener().Describe());
    }
  }
}

void Supervisor::UpdateAccepting() {
  if (applying_) return;
  NotifyReadyOnceSettled();
  SendProgramsIfChanged();
  for (auto& [key, acceptors] : listeners_) {
    for (auto& acceptor : acceptors) {
      auto service = services_.find(acceptor->service_name());
      acceptor->SetAccepting(!stopping_ && service != services_.end() &&
                             service->second->accepting());
    }
  }
  for (auto& [key, receivers] : datagram_listeners_) {
    for (auto& receiver : receivers) {
      auto service = services_.find(receiver->service_name());
      receiver->SetReceiving(!stopping_ && service != services_.end() &&
                             service->second->receiving_datagrams());
    }
  }
}

int Supervisor::Run() {
  size_t listeners = 0;
  ForEachListener([&](const std::string&, const Listener&, const std::string&) { ++listeners; });
  Log(kLogNotice, "ready: " + std::to_string(services_.size()) + " services on " +
                      std::to_string(listeners) + " listeners");
  timeval startup = Seconds(kStartupReportSeconds);
  event_add(startup_timer_.get(), &startup);
  NotifyReadyOnceSettled();
  event_base_dispatch(base_.get());
  // libevent still handles these here; freeing its signal events puts SIG_DFL
  // back, and a second TERM (or HUP, USR1...) sent to a process already
  // stopping would then kill it. Blocked, they stay pending until exit.
  BlockControlSignals();
  Log(kLogNotice, "stopped");
  return 0;
}

std::string Supervisor::StatusSummary() const {
  size_t listeners = 0, programs = 0;
  ForEachListener([&](const std::string&, const Listener&, const std::string&) { ++listeners; });
  std::string failing;
  for (const auto& [name, service] : services_) {
    programs += service->programs();
    if (service->restarting()) failing += (failing.empty() ? "" : ", ") + name;
    if (!service->settled()) failing += (failing.empty() ? "" : ", ") + name + " (not ready)";
  }
  std::string text = std::to_string(services_.size()) + " services on " +
                     std::to_string(listeners) + " listeners, " + std::to_string(programs) +
                     " programs running";
  if (!failing.empty()) text += "; failed to start: " + failing;
  return text;
}

void Supervisor::NotifyReadyOnceSettled() {
  if (ready_notified_ || stopping_ || applying_) return;
  for (const auto& [name, service] : services_) {
    if (!service->settled()) return;
  }
  ready_notified_ = true;
  event_del(startup_timer_.get());
  // MAINPID: after a binary upgrade this process is the main one now.
  NotifySystemd("READY=1\nMAINPID=" + std::to_string(getpid()) + "\nSTATUS=" + StatusSummary());
}

void Supervisor::OnStartupTimeout(evutil_socket_t, short, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  if (supervisor->ready_notified_ || supervisor->stopping_) return;
  supervisor->ready_notified_ = true;
  NotifySystemd("READY=1\nMAINPID=" + std::to_string(getpid()) +
                "\nSTATUS=" + supervisor->StatusSummary());
}

// A service's own uid is never another's while a program of the other runs with
// it (a draining child of a removed service, say): such a reload waits.
bool Supervisor::DynamicUidsFree(const Config& next, std::vector<std::string>* errors) const {
  for (const ServiceConfig& config : next.services) {
    if (!config.dynamic_user) continue;
    for (const auto& [name, service] : services_) {
      if (name != config.name && service->HasProgramsAs(config.jail.uid)) {
        errors->push_back(config.where + ": [" + config.name + "] would get uid " +
                          std::to_string(config.jail.uid) + ", which service " + name +
                          " still runs programs as; reload again once they have ended");
      }
    }
  }
  return errors->empty();
}

// Everything a reload needs, checked before anything changes: the files (read
// with the running services_dir, which needs a restart), what the kernel must
// provide, the uids, and the new listeners, bound last so a refusal binds nothing.
bool Supervisor::PrepareReload(Config* next, ListenerMap* fresh, std::vector<std::string>* errors,
                               std::vector<std::string>* warnings) const {
  CommandLine command_line = command_line_;
  if (!LoadConfig(command_line, next, errors)) return false;
  if (next->global.services_dir != global_.services_dir) {
    warnings->push_back("reload: services_dir changed; it takes effect only after a restart");
    command_line.overrides.push_back(
        ConfigEntry{"services_dir", AbsolutePath(global_.services_dir), "running configuration"});
    if (!LoadConfig(command_line, next, errors)) return false;
  }
  std::string no_namespaces;
  bool namespaces = ServiceNamespacesAvailable(&no_namespaces);
  CheckPrivateNetwork(*next, namespaces, no_namespaces, errors);
  CheckFdBudget(*next, CurrentFileLimits(), errors, warnings);
  return errors->empty() && DynamicUidsFree(*next, errors) &&
         BindListeners(*next, ListenerKeys(), fresh, errors, warnings);
}

void Supervisor::Reload() {
  double started = MonotonicSeconds();
  NotifySystemd(ReloadingState());
  // logrotate's convention: the log is reopened even when the new config is refused.
  std::string error;
  if (!OpenLog(LogTargetOf(global_), &error)) Log(kLogErr, "reload: " + error);
  Log(kLogNotice, "SIGHUP: reloading the configuration");

  Config next;
  std::vector<std::string> errors, warnings;
  ListenerMap fresh;  // what was bound for a refused reload closes with it
  if (PrepareReload(&next, &fresh, &errors, &warnings)) {
    // The other keys that need a restart keep their running values.
    for (const std::string& key : RestartOnlyChanges(global_, next.global)) {
      warnings.push_back("reload: " + key + " changed; it takes effect only after a restart");
    }
    next.global.pid_file = global_.pid_file;
    next.global.background = global_.background;
    next.global.setsid = global_.setsid;
    if (!(LogTargetOf(next.global) == LogTargetOf(global_)) &&
        !OpenLog(LogTargetOf(next.global), &error)) {
      errors.push_back(error);
      OpenLog(LogTargetOf(global_), &error);
    }
  }
  if (!errors.empty()) {
    for (const std::string& e : errors) Log(kLogErr, "reload: " + e);
    Log(kLogErr, "reload refused (" + std::to_string(errors.size()) +
                     " errors); the running configuration stays");
    NotifySystemd("READY=1\nSTATUS=reload refused (" + std::to_string(errors.size()) +
                  " errors, see the log); " + StatusSummary());
    return;
  }
  for (const std::string& warning : next.warnings) Log(kLogWarning, warning);
  for (const std::string& warning : warnings) Log(kLogWarning, warning);
  Apply(next, std::move(fresh));
  UseFileLimits();
  char took[32];
  snprintf(took, sizeof took, "%.1f ms", (MonotonicSeconds() - started) * 1000);
  size_t listeners = 0;
  ForEachListener([&](const std::string&, const Listener&, const std::string&) { ++listeners; });
  Log(kLogNotice, "reloaded: " + std::to_string(next.services.size()) + " services on " +
                      std::to_string(listeners) + " listeners in " + took);
  NotifySystemd("READY=1\nSTATUS=" + StatusSummary());
}

void Supervisor::BeginShutdown(double grace_seconds, const char* why) {
  if (!stopping_) {
    stopping_ = true;
    NotifySystemd("STOPPING=1");
    Log(kLogNotice, std::string(why) + ": no new connections; programs get " +
                        std::to_string(static_cast<int>(grace_seconds)) + " s to finish");
    UpdateAccepting();
    listeners_.clear();  // closes the sockets, removes UNIX socket files
    datagram_listeners_.clear();
    for (auto& [name, service] : services_) service->Shutdown();
  } else if (!stop_requested_) {
    // Handed over to a successor, draining without a deadline: now there is one.
    Log(kLogNotice, std::string(why) + ": programs get " +
                        std::to_string(static_cast<int>(grace_seconds)) + " s to finish");
  } else {
    grace_seconds = 0;  // a second signal: do not wait any longer
  }
  stop_requested_ = true;
  if (successor_ != 0 && !successor_killed_) {
    // gatehouse stops as a whole: a successor that does not serve yet goes too.
    Log(kLogNotice, "upgrade: stopping; ending successor pid " + std::to_string(successor_) +
                        ", which is not ready yet");
    successor_killed_ = true;
    event_del(upgrade_timer_.get());
    kill(successor_, SIGTERM);
  }
  // The older generations' sessions end with ours, on the same grace.
  for (auto& link : older_) link->Send(StopPacket(static_cast<uint32_t>(grace_seconds)));
  timeval grace = Seconds(grace_seconds);
  event_add(grace_timer_.get(), &grace);
  FinishIfDone();
}

// The grace is over: TERM to every child and to every orphaned program (ours
// as the subreaper), KILL after kill_grace.
void Supervisor::OnGraceExpired(evutil_socket_t, short, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  for (auto& [name, service] : supervisor->services_) service->Signal(SIGTERM);
  size_t left = SignalOwnChildren(SIGTERM, supervisor->spared_);
  if (left > 0) Log(kLogNotice, "TERM to " + std::to_string(left) + " processes still running");
  // A later signal TERMs again but never postpones the KILL: a storm of TERMs
  // re-arming these timers would keep a stop from ever ending.
  if (evtimer_pending(supervisor->kill_timer_.get(), nullptr)) return;
  double kill_after = KillAfterTermSeconds(supervisor->services_);
  timeval delay = Seconds(kill_after);
  event_add(supervisor->kill_timer_.get(), &delay);
  timeval older_wait = Seconds(kill_after + kOlderGenerationsExtraSeconds);
  event_add(supervisor->older_wait_timer_.get(), &older_wait);
}

void Supervisor::OnKillTimer(evutil_socket_t, short, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  for (auto& [name, service] : supervisor->services_) {
    if (service->running()) {
      Log(kLogWarning, name + ": child did not end; killing it");
      service->Signal(SIGKILL);
    }
  }
  size_t left = SignalOwnChildren(SIGKILL, supervisor->spared_);
  if (left > 0) {
    Log(kLogWarning, "KILL to " + std::to_string(left) + " processes that did not end");
    timeval again = Seconds(kKillRepeatSeconds);  // what they leave behind comes to us
    event_add(supervisor->kill_timer_.get(), &again);
  }
}

// An older generation that has not ended long after its own KILL is left to
// itself: this one (systemd's main process) stops anyway.
void Supervisor::OnOlderWaitOver(evutil_socket_t, short, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  for (auto& link : supervisor->older_) {
    link->Close("it has not ended; stopping without it");
  }
  supervisor->FinishIfDone();
}

void Supervisor::ReapChildren() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    bool ours = false;
    if (pid == successor_) {
      if (!successor_killed_ || !stopping_) {
        Log(kLogErr, "upgrade: successor pid " + std::to_string(pid) + " ended (" +
                         DescribeWaitStatus(status) + ") before it served; still serving");
      }
      event_del(upgrade_timer_.get());
      successor_ = 0;
      successor_killed_ = false;
      // It may have written the pid file before it failed or hung: ours again.
      std::string error;
      if (!stopping_ && !WritePidFile(global_.pid_file, pid, &error)) {
        Log(kLogErr, "upgrade: " + error);
      }
      continue;
    }
    for (auto& [name, service] : services_) {
      if (service->OnReaped(pid, status)) {
        ours = true;
        break;
      }
    }
    // As subreaper we also inherit programs whose child died before them, and
    // later generations whose parent ended before us.
    if (!ours) {
      Log(kLogDebug, std::string(spared_.count(pid) ? "reaped gatehouse pid "
                                                    : "reaped orphaned program pid ") +
                         std::to_string(pid));
    }
  }
  // Removed services whose last child has ended leave the table.
  for (auto it = services_.begin(); it != services_.end();) {
    it = it->second->finished() ? services_.erase(it) : std::next(it);
  }
  FinishIfDone();
}

void Supervisor::TakeOlderGenerations(std::vector<InheritedLink> links, pid_t predecessor) {
  predecessor_ = predecessor;
  applying_ = true;  // no tables yet: nothing to update (nor READY=1 to send) before Apply
  for (InheritedLink& inherited : links) {
    GenerationLink* link = AddLink(std::move(inherited.fd), inherited.peer, Generation::kOlder);
    link->ReadAvailable();  // the predecessor's table, written before it started us
  }
  applying_ = false;
}

void Supervisor::ReportReady() {
  for (auto& link : older_) {
    if (link->peer() == predecessor_) link->Send(ReadyPacket());
  }
}

GenerationLink* Supervisor::AddLink(UniqueFd socket, pid_t peer, Generation side) {
  auto link = std::make_unique<GenerationLink>(
      base_.get(), std::move(socket), peer, side,
      [this](GenerationLink& from, GenerationMessage& message, UniqueFd fd) {
        OnLinkMessage(from, message, std::move(fd));
      },
      [this](GenerationLink& from, const std::string& reason) { OnLinkClosed(from, reason); });
  GenerationLink* added = link.get();
  (side == Generation::kOlder ? older_ : later_).push_back(std::move(link));
  return added;
}

void Supervisor::Upgrade() {
  if (successor_ != 0 || stopping_) {
    Log(kLogWarning, "SIGUSR2: an upgrade or a stop is already under way; ignored");
    return;
  }
  std::vector<std::pair<int, std::string>> handed;
  ForEachListener([&](const std::string& key, const Listener& listener, const std::string&) {
    handed.emplace_back(listener.fd.get(), key);
  });
  // A link to us, and one to each older generation still draining (whose end
  // goes to it once the successor's pid is known).
  std::string error;
  UniqueFd ours, theirs;
  std::vector<UniqueFd> successor_ends, older_ends;
  std::vector<std::pair<int, pid_t>> links;
  bool linked = LinkPair(&ours, &theirs, &error);
  if (linked) links.emplace_back(theirs.get(), getpid());
  for (auto& link : older_) {
    if (!linked || !link->open()) continue;
    UniqueFd older_end, successor_end;
    linked = LinkPair(&older_end, &successor_end, &error);
    links.emplace_back(successor_end.get(), link->peer());
    successor_ends.push_back(std::move(successor_end));
    older_ends.push_back(std::move(older_end));
  }
  // Our table waits in the link before the successor runs: it counts our
  // programs from its first connection on.
  if (linked) SendPacket(ours.get(), ProgramsTableForNewLink());
  pid_t pid = linked ? StartSuccessor(image_, handed, links, &error) : 0;
  if (pid == 0) {
    Log(kLogErr, "upgrade: cannot start " + image_.path + ": " + error + "; still serving");
    return;
  }
  successor_ = pid;
  successor_killed_ = false;
  Log(kLogNotice, "SIGUSR2: upgrade: started " + image_.path + " as pid " + std::to_string(pid) +
                      " with " + std::to_string(handed.size()) + " listeners");
  size_t next = 0;
  for (auto& link : older_) {
    if (link->open() && next < older_ends.size()) {
      link->Send(SuccessorPacket(pid), std::move(older_ends[next++]));
    }
  }
  AddLink(std::move(ours), pid, Generation::kLater);
  timeval timeout = Seconds(global_.upgrade_timeout);
  event_add(upgrade_timer_.get(), &timeout);
}

void Supervisor::OnUpgradeTimeout(evutil_socket_t, short, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  pid_t pid = supervisor->successor_;
  if (pid == 0 || supervisor->successor_killed_) return;
  Log(kLogErr, "upgrade: successor pid " + std::to_string(pid) + " not ready within " +
                   std::to_string(supervisor->global_.upgrade_timeout) +
                   " s; killing it; this process keeps serving");
  supervisor->successor_killed_ = true;
  // Its process group: what it started (it never served) goes with it. Not yet
  // reaped, so the pid is still the successor's.
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
}

void Supervisor::OnLinkMessage(GenerationLink& link, GenerationMessage& message, UniqueFd fd) {
  std::string peer = "gatehouse pid " + std::to_string(link.peer());
  switch (message.kind) {
    case GenerationMessage::Kind::kPrograms:
      CountOlderPrograms();
      UpdateAccepting();
      return;
    case GenerationMessage::Kind::kReady:
      if (link.peer() != successor_ || successor_killed_ || stopping_) {
        Log(kLogWarning, "upgrade: " + peer + " says it is ready, unasked; ignored");
        return;
      }
      HandOver();
      return;
    case GenerationMessage::Kind::kStop:
      // Only the generation that serves stops the older ones; we serve no more.
      if (!handed_over_) {
        Log(kLogWarning, "upgrade: stop from " + peer + " ignored: this process serves");
        return;
      }
      BeginShutdown(message.seconds, ("stop from " + peer).c_str());
      return;
    case GenerationMessage::Kind::kSuccessor:
      if (!IsGenerationLinkSocket(fd.get())) {
        Log(kLogWarning, "upgrade: " + peer + " handed over a link that is none; ignored");
        return;
      }
      spared_.insert(message.pid);  // ours only if its parent ends before us: never ended
      std::string table = ProgramsTableForNewLink();
      AddLink(std::move(fd), message.pid, Generation::kLater)->Send(std::move(table));
      return;
  }
}

void Supervisor::OnLinkClosed(GenerationLink& link, const std::string& reason) {
  PruneLinksLater();
  if (link.side() == Generation::kLater) {
    if (link.peer() == successor_ && !successor_killed_ && !stopping_) {
      // Its reason is in the log (its stderr is our log or our stderr); the exit status follows.
      Log(kLogErr, "upgrade: successor pid " + std::to_string(link.peer()) +
                       " failed before it served; this process keeps serving");
      event_del(upgrade_timer_.get());
    } else if (!reason.empty()) {
      Log(kLogWarning,
          "upgrade: link to gatehouse pid " + std::to_string(link.peer()) + " closed: " + reason);
    }
    return;
  }
  if (handed_over_) return;  // a link we handed on to the successor
  if (!reason.empty()) {
    Log(kLogWarning, "upgrade: link to older gatehouse pid " + std::to_string(link.peer()) +
                         " closed: " + reason);
  } else {
    Log(kLogInfo, "upgrade: older gatehouse pid " + std::to_string(link.peer()) + " has ended");
  }
  CountOlderPrograms();
  UpdateAccepting();
  FinishIfDone();
}

void Supervisor::PruneLinksLater() {
  timeval now{0, 0};
  event_add(prune_event_.get(), &now);
}

void Supervisor::OnPruneLinks(evutil_socket_t, short, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  for (auto* links : {&supervisor->older_, &supervisor->later_, &supervisor->handed_on_}) {
    links->erase(
        std::remove_if(links->begin(), links->end(),
                       [](const std::unique_ptr<GenerationLink>& link) { return !link->open(); }),
        links->end());
  }
}

std::map<std::string, size_t> Supervisor::OwnPrograms() const {
  std::map<std::string, size_t> programs;
  for (const auto& [name, service] : services_) {
    if (size_t count = service->own_programs(); count > 0) programs[name] = count;
  }
  return programs;
}

void Supervisor::SendProgramsIfChanged() {
  if (later_.empty()) return;
  std::map<std::string, size_t> programs = OwnPrograms();
  if (programs == programs_sent_) return;
  programs_sent_ = std::move(programs);
  std::string packet = ProgramsPacket(programs_sent_);
  for (auto& link : later_) link->Send(packet);
}

std::string Supervisor::ProgramsTableForNewLink() {
  SendProgramsIfChanged();         // the links we have are up to date (if any)...
  programs_sent_ = OwnPrograms();  // ...so that this is what every later one has
  return ProgramsPacket(programs_sent_);
}

void Supervisor::CountOlderPrograms() {
  std::map<std::string, size_t> older;
  for (const auto& link : older_) {
    for (const auto& [name, count] : link->programs()) older[name] += count;
  }
  for (auto& [name, service] : services_) {
    auto found = older.find(name);
    service->SetOlderPrograms(found == older.end() ? 0 : found->second);
  }
}

bool Supervisor::OlderGenerationsRunning() const {
  return std::any_of(older_.begin(), older_.end(),
                     [](const std::unique_ptr<GenerationLink>& link) { return link->open(); });
}

void Supervisor::HandOver() {
  pid_t pid = successor_;
  Log(kLogNotice, "upgrade: successor pid " + std::to_string(pid) +
                      " serves; this process stops accepting and drains");
  NotifySystemd("MAINPID=" + std::to_string(pid));
  event_del(upgrade_timer_.get());
  // The successor serves the same sockets: their UNIX files are its now.
  for (auto& [key, acceptors] : listeners_) {
    for (auto& acceptor : acceptors) acceptor->listener().owns_path = false;
  }
  for (auto& [key, receivers] : datagram_listeners_) {
    for (auto& receiver : receivers) receiver->listener().owns_path = false;
  }
  spared_.insert(pid);  // never ended by our shutdown
  successor_ = 0;       // no longer ours to watch
  handed_over_ = true;
  // The successor has links of its own to the older generations: ours close
  // once the successor's link has reached each of them.
  for (auto& link : older_) {
    link->CloseWhenSent();
    if (link->open()) handed_on_.push_back(std::move(link));
  }
  older_.clear();
  CountOlderPrograms();
  PruneLinksLater();

  // Like a stop, without its deadline: the sessions run on to their own end
  // (timeout), or until the generation that serves stops and tells us.
  stopping_ = true;
  Log(kLogNotice, "upgrade: no new connections; running programs run on until they end");
  UpdateAccepting();
  listeners_.clear();
  datagram_listeners_.clear();
  for (auto& [name, service] : services_) service->Shutdown();
  FinishIfDone();
}

// Exits only when nothing below us is left: children, and programs orphaned by a
// child that died (they are ours as the subreaper); and, for the generation that
// serves, once the older generations it stopped have ended.
void Supervisor::FinishIfDone() {
  if (!stopping_) return;
  for (auto& [name, service] : services_) {
    if (service->running()) return;
  }
  for (pid_t pid : OwnChildren()) {
    if (spared_.count(pid) == 0) return;
  }
  if (OlderGenerationsRunning()) return;
  event_base_loopexit(base_.get(), nullptr);
}

void Supervisor::LogStatus() {
  std::map<std::string, std::string> listeners;  // service -> "a b c"
  ForEachListener([&](const std::string&, const Listener& listener, const std::string& service) {
    std::string& text = listeners[service];
    text += (text.empty() ? "" : " ") + listener.Describe();
  });
  ProcessCensus census = ProcessCensus::Take();
  for (auto& [name, service] : services_) {
    Log(kLogNotice, "status: " + service->Status(listeners[name], census));
  }
}

// libevent calls OnSignal once for every signal received: a storm of TERMs or
// USR1s would be a storm of stops or status dumps (each reads /proc). Each
// signal only marks itself; once per loop pass, every marked signal is acted
// on once, the stops first.
void Supervisor::OnSignal(evutil_socket_t signal, short, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  supervisor->pending_signals_ |= 1ULL << signal;
  event_active(supervisor->signals_event_.get(), 0, 0);
}

void Supervisor::OnPendingSignals(evutil_socket_t, short, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  uint64_t pending = supervisor->pending_signals_;
  supervisor->pending_signals_ = 0;
  auto marked = [pending](int signal) { return (pending & (1ULL << signal)) != 0; };
  if (marked(SIGQUIT)) supervisor->BeginShutdown(0, "SIGQUIT");
  if (marked(SIGTERM) || marked(SIGINT)) {
    supervisor->BeginShutdown(supervisor->global_.shutdown_timeout,
                              marked(SIGTERM) ? "SIGTERM" : "SIGINT");
  }
  if (marked(SIGHUP) && !supervisor->stopping_) supervisor->Reload();
  if (marked(SIGUSR2)) supervisor->Upgrade();
  if (marked(SIGUSR1)) supervisor->LogStatus();
  if (marked(SIGCHLD)) supervisor->ReapChildren();
}

}  // namespace gatehouse
