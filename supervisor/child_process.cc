#include "supervisor/child_process.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <cstdio>

#include "common/log.h"
#include "common/monotonic_clock.h"
#include "common/sys_error.h"

namespace gatehouse {
namespace {

// Connections queued for a child that is behind before new ones are refused.
constexpr size_t kMaxQueuedConnections = 4096;
constexpr double kMaxRestartDelay = 30;
// A child that ran this long before dying is restarted at the shortest delay.
constexpr double kStableSeconds = 30;


// Set once at start from what the kernel allows (supervisor/isolation_check.h).
bool service_namespaces = false;

ServiceDefinition DefinitionFor(const ServiceConfig& service) {
  ServiceDefinition definition;
  definition.name = service.name;
  definition.jail = service.jail;
  definition.jail.namespaces = service_namespaces;
  definition.program = service.program;
  return definition;
}

}  // namespace

void UseServiceNamespaces(bool available) { service_namespaces = available; }

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string FindChildProgram() {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "gatehouse-child";
  self[n] = '\0';
  std::string dir(self);
  dir = dir.substr(0, dir.rfind('/'));
  for (const std::string& candidate :
       {dir + "/gatehouse-child", dir + "/../child/gatehouse-child"}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return dir + "/gatehouse-child";
}

ChildProcess::ChildProcess(event_base* base, std::shared_ptr<const ServiceConfig> service,
                           std::string child_program, ServiceCounters* counters,
                           std::function<void()> on_state_change)
    : base_(base),
      service_(std::move(service)),
      child_program_(std::move(child_program)),
      counters_(counters),
      on_state_change_(std::move(on_state_change)) {
  restart_timer_.reset(evtimer_new(base_, OnRestartTimer, this));
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

void ChildProcess::SetState(State state) {
  if (state_ == state) return;
  state_ = state;
  if (on_state_change_) on_state_change_();
}

bool ChildProcess::Start() {
  namespace bp = boost::process;
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    Log(kLogErr, service_->name + ": " + ErrnoMessage("socketpair", "", errno));
    ScheduleRestart();
    return false;
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  std::error_code error;
  // The child gets 0-2 and the control socket on 3. Every other fd of ours is
  // close-on-exec (main() marks inherited ones so at start), and the child closes
  // anything above 3 itself. Not bp::limit_handles: it needs /dev/fd, which
  // minimal systems and containers may lack, and then fails half-way.
  // clang-format off
  bp::child child(bp::exe = child_program_, bp::args = {service_->name},
                  bp::posix::fd.bind(3, theirs.get()),
                  bp::std_in < bp::null, bp::std_out > stderr, bp::std_err > stderr,
                  bp::env["NOTIFY_SOCKET"] = boost::none,  // only the supervisor speaks to systemd
                  error);
  // clang-format on
  if (error) {
    Log(kLogErr, service_->name + ": cannot start " + child_program_ + ": " + error.message());
    ScheduleRestart();
    return false;
  }
  pid_ = child.id();
  child.detach();  // reaped by the supervisor's SIGCHLD handler
  started_ = MonotonicSeconds();
  SetState(State::kStarting);
  link_state_ = LinkState::kStarting;
  channel_ = std::make_unique<MessageChannel>(
      base_, std::move(ours), kMaxQueuedConnections,
      [this](WireMessage& message) { OnMessage(message); },
      [this](const std::string& reason) { OnChannelClosed(reason); });
  channel_->Send(MessageType::kServiceDefinition, EncodePayload(DefinitionFor(*service_)));
  Log(kLogDebug, service_->name + ": child started (pid " + std::to_string(pid_) + ")");
  return true;
}

bool ChildProcess::Dispatch(UniqueFd connection, const ConnectionInfo& info,
                            const std::string& peer) {
  if (!channel_ || !channel_->open() || state_ == State::kDraining) {
    Log(kLogWarning, service_->name + ": " + peer + " refused: service child not running");
    ++counters_->failed;
    return false;
  }
  if (!channel_->Send(MessageType::kConnection, EncodePayload(info), std::move(connection))) {
    Log(kLogWarning,
        service_->name + ": " + peer + " refused: " +
            (channel_->open()
                 ? "service child is " + std::to_string(channel_->queued()) + " connections behind"
                 : std::string("service child not running")));
    ++counters_->failed;
    return false;
  }
  connections_[info.id] = Connection{peer, 0};
  ++counters_->served;
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
  if (pid_ > 0) kill(pid_, signal);
}

void ChildProcess::OnExit(int wait_status) {
  double uptime = MonotonicSeconds() - started_;
  bool clean = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
  if (channel_) {
    channel_->ReadAvailable();  // its last reports
    channel_->Close("child exited");
  }
  if (!connections_.empty()) {
    Log(kLogWarning, service_->name + ": child ended with " + std::to_string(connections_.size()) +
                         " connections still open; their programs run on unreported");
    connections_.clear();
  }
  pid_ = 0;
  if (state_ == State::kDraining) {
    Log(clean ? kLogDebug : kLogWarning,
        service_->name + ": child ended (" + DescribeWaitStatus(wait_status) + ")");
    SetState(State::kEnded);
    return;
  }
  if (uptime >= kStableSeconds) restart_delay_ = 1;
  Log(kLogErr, service_->name + ": child ended unexpectedly (" + DescribeWaitStatus(wait_status) + ")");
  ScheduleRestart();
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

void ChildProcess::ProtocolViolation(const std::string& what) {
  Log(kLogErr, service_->name + ": child broke the protocol (" + what + "); ending it");
  Signal(SIGKILL);
  if (channel_) channel_->Close("protocol violation");
}

void ChildProcess::OnChannelClosed(const std::string& reason) {
  if (!reason.empty() && reason != "child exited" && reason != "protocol violation") {
    Log(kLogErr, service_->name + ": child channel: " + reason + "; ending the child");
    Signal(SIGKILL);
  }
}

void ChildProcess::OnMessage(WireMessage& message) {
  std::string error;
  if (!MessageAllowed(message.type, Sender::kChild, link_state_, &error)) {
    return ProtocolViolation(error);
  }
  link_state_ = LinkStateAfter(message.type, link_state_);
  switch (message.type) {
    case MessageType::kReady:
      if (state_ == State::kStarting) SetState(State::kReady);
      Log(kLogNotice, service_->name + ": ready (child pid " + std::to_string(pid_) + ")");
      return;
    case MessageType::kProgramStarted: {
      ProgramStarted started;
      if (!DecodePayload(message.payload, &started, &error)) return ProtocolViolation(error);
      auto found = connections_.find(started.connection_id);
      if (found == connections_.end() || found->second.program != 0) {
        return ProtocolViolation("ProgramStarted for unknown connection");
      }
      found->second.program = started.pid;
      if (LogEnabled(kLogInfo)) {
        Log(kLogInfo, service_->name + ": start " + found->second.peer + " pid " +
                          std::to_string(started.pid));
      }
      return;
    }
    case MessageType::kProgramExited: {
      ProgramExited exited;
      if (!DecodePayload(message.payload, &exited, &error)) return ProtocolViolation(error);
      auto found = connections_.find(exited.connection_id);
      if (found == connections_.end() || found->second.program != exited.pid) {
        return ProtocolViolation("ProgramExited for unknown program");
      }
      if (LogEnabled(kLogInfo)) {
        char duration[32];
        snprintf(duration, sizeof duration, "%.3f s",
                 static_cast<double>(exited.duration_us) / 1e6);
        Log(kLogInfo, service_->name + ": exit " + found->second.peer + " pid " +
                          std::to_string(exited.pid) + " " + DescribeWaitStatus(exited.wait_status) +
                          " after " + duration);
      }
      if (exited.wait_status != 0) ++counters_->exit_nonzero;
      connections_.erase(found);
      return;
    }
    case MessageType::kProgramFailed: {
      ProgramFailed failed;
      if (!DecodePayload(message.payload, &failed, &error)) return ProtocolViolation(error);
      auto found = connections_.find(failed.connection_id);
      if (found == connections_.end() || found->second.program != 0) {
        return ProtocolViolation("ProgramFailed for unknown connection");
      }
      Log(kLogErr,
          service_->name + ": " + found->second.peer + ": cannot run program: " + failed.reason);
      ++counters_->failed;
      connections_.erase(found);
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

}  // namespace gatehouse
