#include "supervisor/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "common/log.h"
#include "common/monotonic_clock.h"
#include "common/pidfd.h"
#include "common/sys_error.h"
#include "supervisor/fd_budget.h"  // kMaxQueuedConnections: the budget counts that queue
#include "supervisor/process_tree.h"
#include "supervisor/tls_files.h"

namespace gatehouse {
namespace {

// Connections a child may hold unreported before it is ended. A child that is
// only slow stops reading, and its connections wait in our queue (refused past
// kMaxQueuedConnections) plus the socket's few hundred; a child that reads them
// all and answers for none passes this bound. Below the queue's bound it would
// end healthy children in a burst, such as the backlog accepted at once when a
// restarted child becomes ready.
constexpr size_t kMaxUnreportedConnections = 8192;
static_assert(kMaxUnreportedConnections >= 2 * kMaxQueuedConnections,
              "a slow child's queue alone must never reach the bound");
constexpr double kMaxRestartDelay = 30;
// A child that ran this long before dying is restarted at the shortest delay.
constexpr double kStableSeconds = 30;
// What is read of a dead child's stderr: a full pipe's worth.
constexpr size_t kLastWordsBytes = 64 * 1024;

// Set once at start from what the kernel allows (supervisor/isolation_check.h).
bool service_namespaces = false;

ServiceDefinition DefinitionFor(const ServiceConfig& service) {
  ServiceDefinition definition;
  definition.name = service.name;
  definition.jail = service.jail;
  definition.jail.namespaces = service_namespaces;
  definition.program = service.program;
  // The soft limit gatehouse was started with, within today's hard limit.
  definition.program.start_nofile_soft = CurrentFileLimits().soft;
  return definition;
}

// Whether `pid`, reported by `child` as a program it started, can be one of its
// programs: they are its direct children, so /proc/PID/status must say "PPid:
// child" (an ended program not yet reaped still does; once the child is dead,
// its programs are ours, the subreaper's). Any other parent — the supervisor
// itself, another service's child — is proof of a lie. A pid that cannot be
// looked up passes: the program may have ended and been reaped before its report
// was read, or the supervisor is out of fds under load, which must not end an
// honest child; nothing is signalled on a child's word alone (EndChild looks again).
// `pid` is read from the pidfd that came with the report, so it is the process
// the child really meant, as we see it; `serving` is the child's serving process
// (the namespace's init, or the child itself without namespaces).
bool CouldBeProgramOf(pid_t pid, pid_t serving, bool child_reaped) {
  pid_t parent = ParentOf(pid);
  return parent == 0 || parent == (child_reaped ? getpid() : serving);
}

// Whether `serving`, from Ready's pidfd, is the child itself or, in a namespace,
// the init it forked.
// A program's pid for the log: ours, or "?" for one in a namespace that ended
// before its pidfd was read (its pid inside the namespace would mislead).
std::string ShownPid(pid_t host_pid) { return host_pid > 0 ? std::to_string(host_pid) : "?"; }

bool IsServingProcessOf(pid_t serving, pid_t child) {
  return serving > 0 && (serving == child || ParentOf(serving) == child);
}

}  // namespace

void UseServiceNamespaces(bool available) { service_namespaces = available; }

void RaiseFileLimit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return;
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
}

// The client a connection's log lines are throttled by: its address (IPv6 by
// /64, as per_source counts), or a UNIX peer's uid.
std::string SourceOf(const ConnectionInfo& info) {
  if (!info.peer_ip.empty()) return SourceSlots::KeyOf(info.peer_ip, 64);
  return info.unix_uid >= 0 ? "uid " + std::to_string(info.unix_uid) : "unix";
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

ChildProcess::ChildProcess(event_base* base, std::shared_ptr<const ServiceConfig> service,
                           std::string child_program, ServiceCounters* counters,
                           OrphanedPrograms* orphans, std::function<void()> on_state_change)
    : base_(base),
      service_(std::move(service)),
      child_program_(std::move(child_program)),
      counters_(counters),
      orphans_(orphans),
      on_state_change_(std::move(on_state_change)),
      // A stalled child (stopped, or stuck) is ended alone: its programs run on.
      report_watchdog_(
          base_,
          service_->child_stall_timeout +
              (service_->tls.enabled() ? service_->tls.settings.handshake_timeout : 0),
          kMaxUnreportedConnections, "connection", "not reported started",
          [this](const std::string& why) { EndChild("child stalled: " + why, false); }),
      log_throttle_(base_) {
  restart_timer_.reset(evtimer_new(base_, OnRestartTimer, this));
  note_starts_.reset(event_new(base_, -1, 0, OnNoteStarts, this));
  output_log_ = std::make_unique<ProgramOutputLog>(base_, service_->name);
}

ChildProcess::~ChildProcess() = default;

const char* ChildProcess::StateName(State state) {
  switch (state) {
    case State::kStarting:
      return "starting";
    case State::kReady:
      return "ready";
    case State::kRestarting:
      return "restarting";
    case State::kDraining:
      return "draining";
    case State::kEnded:
      return "ended";
  }
  return "?";
}

// A limit (max_servers) may have been reached or left: the service looks again.
void ChildProcess::ProgramsChanged() {
  if (on_state_change_) on_state_change_();
}

void ChildProcess::SetState(State state) {
  if (state_ == state) return;
  state_ = state;
  if (on_state_change_) on_state_change_();
}

bool ChildProcess::Start() {
  namespace bp = boost::process;
  // A TLS service never starts without its certificates: it would serve plain text.
  std::optional<std::string> tls_payload = TlsMaterialPayload(*service_);
  if (service_->tls.enabled() && !tls_payload) {
    ScheduleRestart();
    return false;
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    Log(kLogErr, service_->name + ": " + ErrnoMessage("socketpair", "", errno));
    ScheduleRestart();
    return false;
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  // The child's stdout and stderr are a pipe we read and log, never the log file
  // itself: a child (or what runs as its user) could truncate or forge it.
  int output[2];
  if (pipe2(output, O_CLOEXEC) != 0) {
    Log(kLogErr, service_->name + ": " + ErrnoMessage("pipe2", "child stderr", errno));
    ScheduleRestart();
    return false;
  }
  UniqueFd output_read(output[0]), output_write(output[1]);
  // The namespace's lifeline: its keeper ends it when this pipe ends, which is
  // when we let go of it (the child and its programs are done) or when we die.
  int lifeline[2];
  if (pipe2(lifeline, O_CLOEXEC) != 0) {
    Log(kLogErr, service_->name + ": " + ErrnoMessage("pipe2", "namespace lifeline", errno));
    ScheduleRestart();
    return false;
  }
  UniqueFd lifeline_read(lifeline[0]), lifeline_write(lifeline[1]);
  std::error_code error;
  // The child gets 0-2, the control socket on 3 and the lifeline on 4. Every other
  // fd of ours is close-on-exec (main() marks inherited ones so at start), and the
  // child closes anything above 4 itself. Not bp::limit_handles: it needs /dev/fd,
  // which minimal systems and containers may lack, and then fails half-way.
  // clang-format off
  bp::child child(bp::exe = child_program_, bp::args = {service_->name},
                  bp::posix::fd.bind(3, theirs.get()),
                  bp::posix::fd.bind(4, lifeline_read.get()), bp::std_in < bp::null,
                  bp::posix::fd.bind(1, output_write.get()),
                  bp::posix::fd.bind(2, output_write.get()),
                  bp::env["NOTIFY_SOCKET"] = boost::none,  // only the supervisor speaks to systemd
                  error);
  // clang-format on
  if (error) {
    Log(kLogErr, service_->name + ": cannot start " + child_program_ + ": " + error.message());
    ScheduleRestart();
    return false;
  }
  pid_ = child.id();
  reaped_ = false;
  lifeline_ = std::move(lifeline_write);
  child_end_.reset(fcntl(theirs.get(), F_DUPFD_CLOEXEC, 3));
  if (!child_end_) {
    Log(kLogWarning, service_->name + ": " +
                         ErrnoMessage("dup", "the child's end of its control socket", errno) +
                         "; what it has not taken when it dies is lost");
  }
  listeners_sent_ = false;
  child.detach();  // reaped by the supervisor's SIGCHLD handler
  child_stderr_ = std::make_unique<OutputPipe>(
      base_, std::move(output_read),
      [this](std::vector<std::string>& lines) { output_log_->ChildLines(lines); });
  started_ = MonotonicSeconds();
  SetState(State::kStarting);
  link_state_ = LinkState::kStarting;
  starts_read_ = 0;
  starts_noted_ = 0;
  channel_ = std::make_unique<MessageChannel>(
      base_, std::move(ours), kMaxQueuedConnections,
      [this](WireMessage& message) { OnMessage(message); },
      [this](const std::string& reason) { OnChannelClosed(reason); });
  channel_->Send(MessageType::kServiceDefinition, EncodePayload(DefinitionFor(*service_)));
  if (tls_payload) channel_->Send(MessageType::kTlsMaterial, *tls_payload);
  Log(kLogDebug, service_->name + ": child started (pid " + std::to_string(pid_) + ")");
  return true;
}

void ChildProcess::SendTlsFiles() {
  if (!channel_ || !channel_->open()) return;
  if (std::optional<std::string> payload = TlsMaterialPayload(*service_)) {
    channel_->Send(MessageType::kTlsMaterial, *payload);
  }
}

ChildProcess::Connection* ChildProcess::HandOver(MessageType type, const std::string& payload,
                                                 UniqueFd fd, uint64_t id,
                                                 const std::string& refused) {
  bool taken = channel_ && channel_->open() && state_ != State::kDraining &&
               channel_->Send(type, payload, std::move(fd));
  if (!taken) {
    log_throttle_.Note(
        "refused", kLogWarning,
        service_->name + ": " + refused +
            (channel_ && channel_->open() && state_ != State::kDraining
                 ? "service child is " + std::to_string(channel_->queued()) + " messages behind"
                 : std::string("service child not running")));
    ++counters_->failed;
    return nullptr;
  }
  Connection& entry = connections_[id];
  ProgramsChanged();
  ++counters_->served;
  report_watchdog_.Expect(id);  // past the bound this ends the child now
  return &entry;
}

bool ChildProcess::Dispatch(UniqueFd connection, const ConnectionInfo& info,
                            const std::string& peer, SourceSlots::Slot slot) {
  Connection* entry = HandOver(MessageType::kConnection, EncodePayload(info), std::move(connection),
                               info.id, peer + " refused: ");
  if (entry == nullptr) return false;
  entry->peer = peer;
  entry->source = SourceOf(info);
  entry->slot = std::move(slot);
  return true;
}

bool ChildProcess::DispatchDatagram(const Datagram& datagram, const std::string& peer,
                                    DatagramReplySender reply) {
  Connection* entry = HandOver(MessageType::kDatagram, EncodePayload(datagram), UniqueFd(),
                               datagram.connection.id, "datagram from " + peer + " dropped: ");
  if (entry == nullptr) return false;
  entry->peer = peer;
  entry->source = SourceOf(datagram.connection);
  entry->reply = std::move(reply);
  return true;
}

void ChildProcess::Drain(bool end_programs) {
  event_del(restart_timer_.get());
  if (channel_ && channel_->open()) channel_->Send(MessageType::kShutdown, "");
  // The child answers TERM by ending its programs (TERM, then KILL).
  if (end_programs) Signal(SIGTERM);
  SetState(running() ? State::kDraining : State::kEnded);
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && !reaped_) kill(pid_, signal);
}

size_t ChildProcess::ProcessesOf(const ProcessCensus& census) const {
  if (serving_pid_ <= 0) return 0;
  size_t below = census.DescendantsOf(serving_pid_);
  return service_namespaces && below > 0 ? below - 1 : below;
}

void ChildProcess::OnExit(int wait_status) {
  double uptime = MonotonicSeconds() - started_;
  bool clean = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
  reaped_ = true;  // its pid may name another process from now on: never signal it
  if (channel_) channel_->ReadAvailable();  // its last reports
  RecoverUntaken();
  if (channel_) channel_->Close("child exited");
  if (child_stderr_) {
    // Its last words, an unfinished line too. (Only a process it started
    // itself could still hold the pipe; programs get pipes of their own.)
    child_stderr_->ReadAvailable(kLastWordsBytes);
    child_stderr_->Close();
    child_stderr_.reset();
  }
  bool draining = state_ == State::kDraining;
  if (draining) {
    Log(clean ? kLogDebug : kLogWarning,
        service_->name + ": child ended (" + DescribeWaitStatus(wait_status) + ")");
  } else {
    Log(kLogErr,
        service_->name + ": child ended unexpectedly (" + DescribeWaitStatus(wait_status) + ")");
  }
  EndOrphanedWaitProgram();
  AdoptOrphans();
  report_watchdog_.Clear();
  pid_ = 0;
  if (draining) {
    // No next child: what it never took is closed (its clients see the end).
    for (const auto& [id, message] : requeued_) connections_.erase(id);
    counters_->failed += requeued_.size();
    requeued_.clear();
    SetState(State::kEnded);
    return;
  }
  if (uptime >= kStableSeconds) restart_delay_ = 1;
  ScheduleRestart();
}

bool ChildProcess::ProgramReaped(pid_t pid, int wait_status) {
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (!it->second.started || it->second.host_pid != pid) continue;
    int level = wait_status == 0 ? kLogInfo : kLogNotice;
    if (LogEnabled(level)) {
      Log(level, service_->name + ": exit " + it->second.peer + " pid " + std::to_string(pid) +
                     " " + DescribeWaitStatus(wait_status) + " (its child had ended)");
    }
    if (wait_status != 0) ++counters_->exit_nonzero;
    host_pid_of_.erase(it->second.program);
    connections_.erase(it);
    ProgramsChanged();
    return true;
  }
  return false;
}

void ChildProcess::ScheduleRestart() {
  if (state_ == State::kDraining || state_ == State::kEnded) return;
  SetState(State::kRestarting);
  Log(kLogNotice, service_->name + ": starting a new child in " +
                      std::to_string(static_cast<int>(restart_delay_)) + " s");
  timeval delay = Seconds(restart_delay_);
  event_add(restart_timer_.get(), &delay);
  restart_delay_ = std::min(restart_delay_ * 2, kMaxRestartDelay);
}

void ChildProcess::OnRestartTimer(evutil_socket_t, short, void* self) {
  auto* child = static_cast<ChildProcess*>(self);
  if (child->state_ == State::kRestarting) child->Start();
}

void ChildProcess::NoteProgramStarted() {
  // Not one message per start: the event runs after the rest of this batch of
  // reports, and one ProgramsNoted covers them all.
  if (starts_read_++ == starts_noted_) event_active(note_starts_.get(), 0, 0);
}

void ChildProcess::OnNoteStarts(evutil_socket_t, short, void* self) {
  auto* child = static_cast<ChildProcess*>(self);
  if (!child->channel_ || !child->channel_->open()) return;
  if (child->starts_noted_ == child->starts_read_) return;  // a new link since
  child->starts_noted_ = child->starts_read_;
  child->channel_->Send(MessageType::kProgramsNoted,
                        EncodePayload(ProgramsNoted{child->starts_noted_}));
}

void ChildProcess::RecoverUntaken() {
  size_t before = requeued_.size();
  auto keep = [this](MessageType type, std::string payload, UniqueFd fd) {
    uint64_t id = 0;
    std::string error;
    if (type == MessageType::kConnection) {
      ConnectionInfo info;
      if (!fd || !DecodePayload(payload, &info, &error)) return;
      id = info.id;
    } else if (type == MessageType::kDatagram) {
      Datagram datagram;
      if (!DecodePayload(payload, &datagram, &error)) return;
      id = datagram.connection.id;
    } else {
      return;  // ListenFd, Shutdown, ProgramsNoted: for that child only
    }
    auto entry = connections_.find(id);
    if (entry == connections_.end() || entry->second.started) return;  // a lying child's
    requeued_.emplace_back(id, MessageChannel::Outgoing{type, std::move(payload), std::move(fd)});
  };
  if (child_end_) {
    // Everything still here was never read by the child, so never started.
    WireMessage message;
    std::string error;
    while (ReceiveMessage(child_end_.get(), &message, &error) == ReceiveStatus::kMessage) {
      keep(message.type, std::move(message.payload), std::move(message.fd));
      message = WireMessage();
    }
    child_end_.reset();
  }
  if (channel_) {
    for (MessageChannel::Outgoing& unsent : channel_->TakeUnsent()) {
      keep(unsent.type, std::move(unsent.payload), std::move(unsent.fd));
    }
  }
  if (requeued_.size() > before) {
    Log(kLogNotice, service_->name + ": " + std::to_string(requeued_.size() - before) +
                        " connections handed to the child it never took; they wait for the next");
  }
}

void ChildProcess::HandOverRequeued() {
  size_t count = requeued_.size();
  if (count == 0) return;
  while (!requeued_.empty()) {
    auto [id, message] = std::move(requeued_.front());
    requeued_.pop_front();
    if (channel_->Send(message.type, std::move(message.payload), std::move(message.fd))) {
      report_watchdog_.Expect(id);
    } else {
      connections_.erase(id);  // its fd closed: the client sees the end
      ++counters_->failed;
      ProgramsChanged();
    }
  }
  Log(kLogNotice, service_->name + ": " + std::to_string(count) +
                      " connections the last child never took handed to this one");
}

void ChildProcess::AdoptOrphans() {
  std::vector<OrphanedPrograms::Program> programs;
  size_t lost = 0;
  std::set<uint64_t> waiting;  // for the next child: kept
  for (const auto& [id, message] : requeued_) waiting.insert(id);
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (waiting.count(it->first) > 0) {
      ++it;
      continue;
    }
    Connection& connection = it->second;
    // A built-in was served in the child itself; a program we never learnt the
    // pid of (or that has ended) cannot be followed.
    bool followed = connection.started && connection.host_pid > 1 &&
                    connection.program != kInProcess && ParentOf(connection.host_pid) == getpid();
    if (!followed) {
      ++lost;
    } else {
      OrphanedPrograms::Program program;
      program.pid = connection.host_pid;
      program.peer = connection.peer;
      program.source = connection.source;
      program.started = connection.started_at;
      program.slot = std::move(connection.slot);
      program.stderr_read = std::move(connection.stderr_read);
      programs.push_back(std::move(program));
    }
    it = connections_.erase(it);
  }
  if (lost > 0) {
    Log(kLogWarning, service_->name + ": child ended with " + std::to_string(lost) +
                         " connections it served itself or had taken and not started; they are "
                         "closed");
  }
  host_pid_of_.clear();
  source_of_.clear();
  OrphanedPrograms::Terms terms;
  terms.uid = service_->jail.uid;
  terms.timeout = service_->program.timeout;
  terms.kill_grace = service_->program.kill_grace;
  if (!programs.empty()) ProgramsChanged();  // counted from now on as the service's orphans
  orphans_->Adopt(std::move(programs), std::move(lifeline_), terms);
  lifeline_.reset();
}

void ChildProcess::ProtocolViolation(const std::string& what) {
  EndChild("child broke the protocol (" + what + ")", true);
}

void ChildProcess::EndChild(const std::string& why, bool end_programs) {
  Log(kLogErr, service_->name + ": " + why + "; ending the child" +
                   (end_programs ? " and its programs" : ""));
  if (pid_ <= 0 || reaped_) return;  // already gone: OnExit forgets the rest
  if (!end_programs) {
    // Reaped as after a crash: its programs run on, adopted then.
    Signal(SIGKILL);
    if (state_ == State::kStarting || state_ == State::kReady) SetState(State::kRestarting);
    return;
  }
  // Killed, the child could not end its programs itself; checked again, since a
  // pid that has since ended may name another process by now.
  for (const auto& [id, connection] : connections_) {
    pid_t program = connection.host_pid;
    if (program > 1 && ParentOf(program) == serving_pid_) {
      kill(-program, SIGTERM);  // it leads its own process group
      kill(program, SIGTERM);
    }
  }
  Signal(SIGKILL);
  connections_.clear();
  host_pid_of_.clear();
  source_of_.clear();
  requeued_.clear();
  report_watchdog_.Clear();
  lifeline_.reset();  // its namespace ends, and whatever still runs there
  if (channel_) channel_->Close("child ended");
  // Until it is reaped and restarted, clients wait in the backlog rather than
  // being accepted and refused.
  if (state_ == State::kStarting || state_ == State::kReady) SetState(State::kRestarting);
}

void ChildProcess::OnChannelClosed(const std::string& reason) {
  if (reason.empty() || reason == "child exited" || reason == "child ended") return;
  // Only what the child sent can prove it a liar; a channel we failed to use is not.
  bool lie = reason.rfind("protocol violation", 0) == 0;
  EndChild("child channel: " + reason, lie);
}

void ChildProcess::OnMessage(WireMessage& message) {
  std::string error;
  if (!MessageAllowed(message.type, Sender::kChild, link_state_, &error)) {
    return ProtocolViolation(error);
  }
  link_state_ = LinkStateAfter(message.type, link_state_);
  switch (message.type) {
    case MessageType::kReady:
      // Out of fds ourselves, we take the child's word until it restarts (in a
      // namespace its init stays unknown: 0).
      if (!message.fd) {  // left out (no namespace) or lost (we are out of fds)
        serving_pid_ = service_namespaces ? 0 : pid_;
      } else {
        serving_pid_ = PidOfPidfd(message.fd.get());
        if (!IsServingProcessOf(serving_pid_, pid_)) {
          return ProtocolViolation("Ready's pidfd is not the child's own process");
        }
      }
      Log(kLogNotice, service_->name + ": ready (child pid " + std::to_string(pid_) + ")");
      HandOverRequeued();  // first: they came first
      if (state_ == State::kStarting) SetState(State::kReady);
      return;
    case MessageType::kProgramStarted: {
      ProgramStarted started;
      if (!DecodePayload(message.payload, &started, &error)) return ProtocolViolation(error);
      auto found = connections_.find(started.connection_id);
      if (found == connections_.end() || found->second.started) {
        return ProtocolViolation("ProgramStarted for unknown connection");
      }
      // Served in the child itself: only a built-in is, and it has no process (no pidfd).
      bool in_process = started.pid == kInProcess;
      if (in_process != (service_->program.mode == ServiceMode::kBuiltin) ||
          (in_process && message.fd)) {
        return ProtocolViolation(
            "ProgramStarted names pid " + std::to_string(started.pid) +
            " for a service with mode = " + ServiceModeName(service_->program.mode));
      }
      found->second.started = true;
      if (in_process) {
        report_watchdog_.Heard(started.connection_id);
        if (LogEnabled(kLogInfo))
          Log(kLogInfo, service_->name + ": start " + found->second.peer + " in-process");
        return;
      }
      // 0: it has ended already. No pidfd (no namespace, or lost to our fd limit): the pid the
      // child names is ours only without namespaces; else it stays unknown.
      pid_t host_pid = message.fd           ? PidOfPidfd(message.fd.get())
                       : service_namespaces ? 0
                                            : started.pid;
      if (host_pid < 0 || (host_pid > 0 && !CouldBeProgramOf(host_pid, serving_pid_, reaped_))) {
        return ProtocolViolation("ProgramStarted names pid " + std::to_string(started.pid) +
                                 ", which is not its program");
      }
      found->second.program = started.pid;
      found->second.started_at = MonotonicSeconds();
      // Unknown (0) only in a namespace, where the child's pid means nothing here.
      if (host_pid == 0 && !service_namespaces) host_pid = started.pid;
      found->second.host_pid = host_pid;
      host_pid_of_[started.pid] = host_pid;
      source_of_[started.pid] = found->second.source;
      if (service_namespaces) NoteProgramStarted();
      report_watchdog_.Heard(started.connection_id);
      if (LogEnabled(kLogInfo)) {
        Log(kLogInfo,
            service_->name + ": start " + found->second.peer + " pid " + ShownPid(host_pid));
      }
      return;
    }
    case MessageType::kProgramStderr: {
      ProgramStarted named;
      if (!DecodePayload(message.payload, &named, &error)) return ProtocolViolation(error);
      auto found = connections_.find(named.connection_id);
      if (found == connections_.end() || !found->second.started ||
          found->second.program != named.pid || found->second.stderr_read) {
        return ProtocolViolation("ProgramStderr for unknown program");
      }
      if (!message.fd) return;  // lost to our fd limit: unread should the child die
      struct stat pipe_info {};
      int mode = fcntl(message.fd.get(), F_GETFL);
      if (fstat(message.fd.get(), &pipe_info) != 0 || !S_ISFIFO(pipe_info.st_mode) || mode < 0 ||
          (mode & O_ACCMODE) != O_RDONLY) {
        return ProtocolViolation("ProgramStderr carries no pipe's read end");
      }
      found->second.stderr_read = std::move(message.fd);
      return;
    }
    case MessageType::kProgramExited: {
      ProgramExited exited;
      if (!DecodePayload(message.payload, &exited, &error)) return ProtocolViolation(error);
      auto found = connections_.find(exited.connection_id);
      if (found == connections_.end() || !found->second.started ||
          found->second.program != exited.pid) {
        return ProtocolViolation("ProgramExited for unknown program");
      }
      bool in_process = exited.pid == kInProcess;
      // A failed connection must leave a trace at the default log_level (notice);
      // a clean exit is routine and stays at info.
      int level = exited.wait_status == 0 ? kLogInfo : kLogNotice;
      if (LogEnabled(level)) {
        char duration[32];
        snprintf(duration, sizeof duration, "%.3f s",
                 static_cast<double>(exited.duration_us) / 1e6);
        std::string line =
            service_->name + ": exit " + found->second.peer +
            (in_process ? std::string(" in-process") : " pid " + ShownPid(found->second.host_pid)) +
            " " + DescribeWaitStatus(exited.wait_status) + " after " + duration;
        // A client that connects and resets at will fails a program at will: at
        // notice, per client, throttled. At info every start has its exit line;
        // a wait program has no client (its restarts are bounded by back-off).
        if (LogEnabled(kLogInfo) || found->second.source.empty()) {
          Log(level, line);
        } else {
          log_throttle_.Note("exit " + found->second.source, level, line);
        }
      }
      if (exited.wait_status != 0) ++counters_->exit_nonzero;
      auto host = host_pid_of_.find(exited.pid);
      output_log_->ProgramEnded(host == host_pid_of_.end() ? exited.pid : host->second);
      host_pid_of_.erase(exited.pid);
      source_of_.erase(exited.pid);
      if (!KeepWaitProgramEntry(found->second, exited.connection_id)) connections_.erase(found);
      ProgramsChanged();
      return;
    }
    case MessageType::kProgramFailed: {
      ProgramFailed failed;
      if (!DecodePayload(message.payload, &failed, &error)) return ProtocolViolation(error);
      auto found = connections_.find(failed.connection_id);
      if (found == connections_.end() || found->second.started) {
        return ProtocolViolation("ProgramFailed for unknown connection");
      }
      log_throttle_.Note(
          "program failed", kLogErr,
          service_->name + ": " + found->second.peer + ": cannot run program: " + failed.reason);
      ++counters_->failed;
      report_watchdog_.Heard(failed.connection_id);
      if (!KeepWaitProgramEntry(found->second, failed.connection_id)) connections_.erase(found);
      ProgramsChanged();
      return;
    }
    case MessageType::kDatagramReply: {
      DatagramReply reply;
      if (!DecodePayload(message.payload, &reply, &error)) return ProtocolViolation(error);
      auto found = connections_.find(reply.connection_id);
      // Only for a datagram in flight, once, and from a started program (or built-in).
      if (found == connections_.end() || !found->second.reply || found->second.replied) {
        return ProtocolViolation("DatagramReply for no datagram in flight");
      }
      if (!found->second.started && service_->program.mode != ServiceMode::kBuiltin) {
        return ProtocolViolation("DatagramReply before its program started");
      }
      found->second.replied = true;
      found->second.reply(reply.bytes);
      return;
    }
    case MessageType::kProgramSyslog: {
      ProgramOutput output;
      if (!DecodePayload(message.payload, &output, &error)) return ProtocolViolation(error);
      // The sender as we see it: from its pidfd, or a program we know; else "?"
      // (a namespace's pid would mislead).
      pid_t host_pid = message.fd ? PidOfPidfd(message.fd.get()) : 0;
      if (host_pid <= 0) {
        auto host = host_pid_of_.find(output.pid);
        host_pid = host != host_pid_of_.end() ? host->second : 0;
      }
      output_log_->SyslogText(host_pid, output.text);
      return;
    }
    case MessageType::kProgramOutput: {
      ProgramOutput output;
      if (!DecodePayload(message.payload, &output, &error)) return ProtocolViolation(error);
      auto host = host_pid_of_.find(output.pid);
      auto source = source_of_.find(output.pid);
      output_log_->ProgramText(host == host_pid_of_.end() ? output.pid : host->second, output.text,
                               source == source_of_.end() ? "" : source->second);
      return;
    }
    case MessageType::kFatal: {
      FatalError fatal;
      if (!DecodePayload(message.payload, &fatal, &error)) return ProtocolViolation(error);
      Log(kLogErr, service_->name + ": child cannot serve: " + fatal.reason);
      return;  // its last word: it exits now
    }
    default:
      return;  // the table lets nothing else through
  }
}

// mode = wait: the program the child runs for the listening sockets.

bool ChildProcess::AwaitsListeners() const {
  return service_->program.mode == ServiceMode::kWait && state_ == State::kReady &&
         !listeners_sent_ && channel_ && channel_->open();
}

void ChildProcess::SendListeners(const std::vector<int>& listening_fds) {
  listeners_sent_ = true;
  uint32_t count = static_cast<uint32_t>(listening_fds.size());
  for (uint32_t index = 0; index < count; ++index) {
    UniqueFd copy(fcntl(listening_fds[index], F_DUPFD_CLOEXEC, 3));
    if (!copy) {
      // The child would wait for the rest for ever: it is ended and restarted.
      return EndChild(ErrnoMessage("dup", "listening socket for the child", errno), false);
    }
    // Shared with our own copy: our acceptors never accept on a wait service's
    // sockets, set O_NONBLOCK again before each accept batch should a reload
    // give them another mode, and receivers read datagrams with MSG_DONTWAIT.
    int flags = fcntl(copy.get(), F_GETFL);
    if (flags >= 0) fcntl(copy.get(), F_SETFL, flags & ~O_NONBLOCK);
    channel_->Send(MessageType::kListenFd, EncodePayload(ListenFd{index, count, service_->name}),
                   std::move(copy));
  }
  Connection& listeners = connections_[kListenersConnectionId] = Connection();
  listeners.peer = "listeners";
  report_watchdog_.Expect(kListenersConnectionId);
  ProgramsChanged();
  Log(kLogInfo, service_->name + ": " + std::to_string(count) +
                    " listening sockets passed to the child for its program");
}

bool ChildProcess::KeepWaitProgramEntry(Connection& entry, uint64_t connection_id) {
  if (connection_id != kListenersConnectionId) return false;
  entry.program = 0;
  entry.host_pid = 0;
  entry.started = false;  // the restarted program reports its own start
  entry.stderr_read.reset();
  return true;
}

std::string ChildProcess::WaitProgramStatus() const {
  auto found = connections_.find(kListenersConnectionId);
  if (found == connections_.end()) {
    return listeners_sent_ ? "program not running" : "program waiting for its sockets";
  }
  if (found->second.program == 0) return "program not running (restart pending)";
  return "program " + ShownPid(found->second.host_pid) + " running";
}

void ChildProcess::EndOrphanedWaitProgram() {
  auto found = connections_.find(kListenersConnectionId);
  if (found == connections_.end()) return;
  pid_t program = found->second.host_pid;
  if (found->second.program != 0 && program > 1 && ParentOf(program) == getpid()) {
    Log(kLogWarning, service_->name + ": ending orphaned program pid " + std::to_string(program) +
                         ", which holds the listening sockets");
    kill(-program, SIGKILL);
    kill(program, SIGKILL);
  }
  host_pid_of_.erase(found->second.program);
  source_of_.erase(found->second.program);
  connections_.erase(found);
}

}  // namespace gatehouse
