#include "child/child_loop.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <ctime>

#include "child/builtin_reply.h"
#include "child/program_environment.h"
#include "child/program_runner.h"
#include "child/supervisor_term.h"
#include "common/monotonic_clock.h"
#include "common/pidfd.h"
#include "common/sys_error.h"

namespace gatehouse {
namespace {

// Messages queued towards a slow supervisor before the child gives up on it.
constexpr size_t kMaxQueuedReports = 65536;
// How long an exiting child waits for a slow supervisor to take its last reports.
constexpr double kFinalFlushSeconds = 2.0;
// How long the namespace's keeper may take to end what programs left behind.
constexpr double kSweepSeconds = 5.0;

uint64_t MicrosecondsSince(double start) {
  double seconds = MonotonicSeconds() - start;
  return seconds < 0 ? 0 : static_cast<uint64_t>(seconds * 1e6);
}

// Once per connection, before its program can write: without blocking (a fresh
// socket's send buffer takes 4 KiB; what a full one refuses is lost, best effort).
void SendBanner(int fd, const std::string& banner) {
  if (banner.empty()) return;
  ssize_t sent = send(fd, banner.data(), banner.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)sent;  // the program runs either way, as it would for a slow client
}

}  // namespace

ChildLoop::ChildLoop(event_base* base, UniqueFd control, ServiceDefinition service,
                     UniqueFd null_fd, NamespaceKeeper keeper)
    : base_(base),
      service_(std::move(service)),
      null_fd_(std::move(null_fd)),
      keeper_(std::move(keeper)) {
  channel_ = std::make_unique<MessageChannel>(
      base_, std::move(control), kMaxQueuedReports,
      [this](WireMessage& message) { OnMessage(message); },
      [this](const std::string& reason) { OnChannelClosed(reason); });
  program_stderr_ = std::make_unique<ProgramStderr>(base_, channel_.get());
  sigchld_event_.reset(evsignal_new(base_, SIGCHLD, OnSigchld, this));
  term_fd_ = OpenSupervisorTermFd();
  sigterm_event_.reset(event_new(base_, term_fd_.get(), EV_READ | EV_PERSIST, OnSigterm, this));
  kill_timer_.reset(evtimer_new(base_, OnKillTimer, this));
  deadlines_ = std::make_unique<ProgramDeadlines>(
      base_, service_.program.timeout, service_.program.kill_grace, service_.name,
      [this](pid_t pid, uint64_t connection) {
        auto found = running_.find(pid);
        return found != running_.end() && found->second.connection_id == connection;
      });
  if (service_.program.mode == ServiceMode::kDatagram) {
    datagram_programs_ = std::make_unique<DatagramPrograms>(base_, &service_, null_fd_.get());
  }
  if (service_.program.mode == ServiceMode::kBuiltin) {
    // `timeout` bounds a built-in connection's idle time, as it bounds a program's run.
    builtin_ = std::make_unique<BuiltinServer>(
        base_, service_.program.builtin, service_.program.timeout, service_.name,
        [this](uint64_t connection_id, uint64_t duration_us) {
          ReportBuiltinStart(connection_id);
          channel_->Send(MessageType::kProgramExited,
                         EncodePayload(ProgramExited{connection_id, kInProcess, 0, duration_us}));
          FinishIfIdle();
        });
  }
  if (service_.program.mode != ServiceMode::kDatagram &&
      service_.program.mode != ServiceMode::kWait) {
    // A relay outlives its program's timeout by the grace only; a built-in's
    // timeout is idle time, which ends the relay through its socket.
    uint32_t run_seconds = service_.program.timeout == 0 || builtin_
                               ? 0
                               : service_.program.timeout + service_.program.kill_grace;
    tls_ = std::make_unique<TlsTerminator>(
        base_, run_seconds,
        [this](const ConnectionInfo& connection, UniqueFd fd, std::vector<std::string> env) {
          ServeConnection(connection, std::move(fd), std::move(env));
        },
        [this](uint64_t connection_id, const std::string& reason) {
          channel_->Send(MessageType::kProgramFailed,
                         EncodePayload(ProgramFailed{connection_id, reason}));
          FinishIfIdle();
        });
  }
  event_add(sigchld_event_.get(), nullptr);
  event_add(sigterm_event_.get(), nullptr);
  if (service_.program.mode == ServiceMode::kWait) {
    WaitProgram::Hooks hooks;
    hooks.started = [this](pid_t pid, UniqueFd stderr_read) {
      Adopt(pid, kListenersConnectionId, std::move(stderr_read));
    };
    hooks.failed = [this](const std::string& reason) {
      channel_->Send(MessageType::kProgramFailed,
                     EncodePayload(ProgramFailed{kListenersConnectionId, reason}));
    };
    wait_program_ =
        std::make_unique<WaitProgram>(base_, service_, null_fd_.get(), std::move(hooks));
  }
}

void ChildLoop::ReadDevLog(UniqueFd socket) {
  dev_log_ = std::make_unique<DevLogReader>(base_, std::move(socket), channel_.get());
}

int ChildLoop::Run() {
  channel_->Send(MessageType::kReady, "",
                 service_.jail.namespaces ? OpenPidfd(getpid()) : UniqueFd());
  link_state_ = LinkStateAfter(MessageType::kReady, link_state_);
  event_base_dispatch(base_);
  SweepNamespaceIfAny();  // as when a namespace's init ends: nothing of the service outlives it
  program_stderr_->DrainAll();
  channel_->FlushFor(kFinalFlushSeconds);  // the last exit reports, if the supervisor was slow
  return exit_code_;
}

void ChildLoop::OnMessage(WireMessage& message) {
  std::string refusal;
  if (!MessageAllowed(message.type, Sender::kSupervisor, link_state_, &refusal)) {
    channel_->Close(refusal);
    return;
  }
  switch (message.type) {
    case MessageType::kConnection:
      StartConnection(message);
      return;
    case MessageType::kDatagram:
      StartDatagram(message);
      return;
    case MessageType::kShutdown:
      StopAccepting();
      return;
    case MessageType::kListenFd:
      ReceiveListenFd(message);
      return;
    case MessageType::kProgramsNoted:
      OnProgramsNoted(message);
      return;
    case MessageType::kTlsMaterial:
      ReceiveTlsMaterial(message);
      return;
    default:
      return;  // the table lets nothing else through
  }
}

void ChildLoop::OnChannelClosed(const std::string& reason) {
  // Nobody reads pidfds any more: nothing is kept unreaped for it (reaped from
  // the loop, not from inside whatever send or read closed the channel).
  starts_noted_ = UINT64_MAX;
  event_active(sigchld_event_.get(), EV_SIGNAL, 1);
  if (!reason.empty()) {
    fprintf(stderr, "gatehouse-child[%s]: %s\n", service_.name.c_str(), reason.c_str());
    exit_code_ = 1;
  }
  StopAccepting();
}

void ChildLoop::StartConnection(WireMessage& message) {
  ConnectionInfo connection;
  std::string error;
  if (!DecodePayload(message.payload, &connection, &error)) {
    channel_->Close("bad Connection message: " + error);
    return;
  }
  if (stopping_) {
    channel_->Send(MessageType::kProgramFailed,
                   EncodePayload(ProgramFailed{connection.id, "service is shutting down"}));
    return;
  }
  if (message.fd_lost) {
    channel_->Send(MessageType::kProgramFailed,
                   EncodePayload(ProgramFailed{connection.id, "gatehouse-child is out of fds"}));
    return;
  }
  if (tls_ && tls_->wanted()) return tls_->Start(connection, std::move(message.fd));
  ServeConnection(connection, std::move(message.fd), {});
}

void ChildLoop::ServeConnection(const ConnectionInfo& connection, UniqueFd fd,
                                std::vector<std::string> tls_env) {
  SendBanner(fd.get(), service_.program.banner);
  if (builtin_) return ServeBuiltin(connection, std::move(fd));
  if (waiting_.empty() && Launch(connection, fd, tls_env)) return;
  waiting_.push_back(Waiting{connection, std::move(fd), std::move(tls_env)});
  channel_->PauseReading();
}

void ChildLoop::ReceiveTlsMaterial(WireMessage& message) {
  TlsMaterial material;
  std::string error;
  if (!DecodePayload(message.payload, &material, &error)) {
    channel_->Close("bad TlsMaterial message: " + error);
    return;
  }
  if (!tls_) {
    channel_->Close("TlsMaterial for a service whose mode is " +
                    std::string(ServiceModeName(service_.program.mode)));
    return;
  }
  if (!tls_->Update(material, &error)) {
    // The supervisor checked the files; one that changed since keeps the old ones.
    fprintf(stderr, "gatehouse-child[%s]: TLS certificates not changed: %s\n",
            service_.name.c_str(), error.c_str());
  }
}

void ChildLoop::ReceiveListenFd(WireMessage& message) {
  ListenFd listen_fd;
  std::string error;
  if (!DecodePayload(message.payload, &listen_fd, &error)) {
    channel_->Close("bad ListenFd message: " + error);
    return;
  }
  if (!wait_program_) {
    channel_->Close("ListenFd for a service whose mode is not wait");
    return;
  }
  if (message.fd_lost) {
    channel_->Close("ListenFd lost its fd: gatehouse-child is out of fds");
    return;
  }
  if (!wait_program_->Receive(listen_fd, std::move(message.fd), &error)) {
    channel_->Close(error);
  }
}

bool ChildLoop::Launch(const ConnectionInfo& connection, UniqueFd& fd,
                       const std::vector<std::string>& tls_env) {
  UniqueFd stderr_read;
  std::string error;
  ProgramLaunch launch;
  launch.stdin_fd = fd.get();
  launch.stdout_fd = fd.get();
  launch.env = ProgramEnvironment(service_, connection);
  launch.env.insert(launch.env.end(), tls_env.begin(), tls_env.end());
  pid_t pid = StartProgramWith(service_, launch, null_fd_.get(), &stderr_read, &error);
  if (pid == kNoFdForStderr) return false;
  fd.reset();  // the program has its own copy now
  ReportStart(connection.id, pid, std::move(stderr_read), error);
  return true;
}

void ChildLoop::StartDatagram(WireMessage& message) {
  Datagram datagram;
  std::string error;
  if (!DecodePayload(message.payload, &datagram, &error)) {
    channel_->Close("bad Datagram message: " + error);
    return;
  }
  uint64_t id = datagram.connection.id;
  if (stopping_) {
    channel_->Send(MessageType::kProgramFailed,
                   EncodePayload(ProgramFailed{id, "service is shutting down"}));
    return;
  }
  if (service_.program.mode == ServiceMode::kBuiltin) {
    AnswerDatagramInProcess(datagram);
    return;
  }
  if (!datagram_programs_) {
    channel_->Send(MessageType::kProgramFailed,
                   EncodePayload(ProgramFailed{id, "not a datagram service"}));
    return;
  }
  UniqueFd stderr_read;
  pid_t pid = datagram_programs_->Start(datagram, &stderr_read, &error);
  ReportStart(id, pid, std::move(stderr_read), error);
}

void ChildLoop::ReportStart(uint64_t connection_id, pid_t pid, UniqueFd stderr_read,
                            const std::string& error) {
  if (pid < 0) {
    channel_->Send(MessageType::kProgramFailed, EncodePayload(ProgramFailed{connection_id, error}));
    return;
  }
  Adopt(pid, connection_id, std::move(stderr_read));
}

void ChildLoop::Adopt(pid_t pid, uint64_t connection_id, UniqueFd stderr_read) {
  Running running{connection_id, MonotonicSeconds()};
  UniqueFd pidfd;
  if (service_.jail.namespaces) pidfd = OpenPidfd(pid);
  if (service_.jail.namespaces && !pidfd) {
    // Without it the supervisor cannot tell which process this is: not served.
    int err = errno;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    std::string unused;
    if (datagram_programs_) datagram_programs_->Finish(pid, &unused);
    channel_->Send(
        MessageType::kProgramFailed,
        EncodePayload(ProgramFailed{connection_id, ErrnoMessage("pidfd_open", "", err)}));
    if (connection_id == kListenersConnectionId && wait_program_) wait_program_->Exited(0);
    return;
  }
  if (pidfd) running.start_number = ++starts_sent_;
  running_[pid] = running;
  deadlines_->Started(pid, connection_id);
  // The supervisor keeps a copy of the stderr pipe's read end and reads it only
  // if this process dies first: a connection's program never writes into a pipe
  // nobody reads. (A datagram's program loses its stdout with us, and a wait
  // program is ended with us: theirs would never be read.)
  UniqueFd stderr_copy;
  bool connection_program = connection_id != kListenersConnectionId && !datagram_programs_;
  if (stderr_read && connection_program) {
    stderr_copy.reset(fcntl(stderr_read.get(), F_DUPFD_CLOEXEC, 3));
  }
  if (stderr_read) program_stderr_->Watch(pid, std::move(stderr_read));
  channel_->Send(MessageType::kProgramStarted, EncodePayload(ProgramStarted{connection_id, pid}),
                 std::move(pidfd));
  if (stderr_copy) {
    channel_->Send(MessageType::kProgramStderr, EncodePayload(ProgramStarted{connection_id, pid}),
                   std::move(stderr_copy));
  }
}

void ChildLoop::ServeBuiltin(const ConnectionInfo& connection, UniqueFd fd) {
  // Reported once served as far as it goes now (a daytime client has its line
  // before the supervisor is woken); one that ended at once has been reported
  // by the end callback, its start first.
  unreported_start_ = connection.id;
  builtin_->Serve(connection.id, std::move(fd));
  ReportBuiltinStart(connection.id);
}

void ChildLoop::ReportBuiltinStart(uint64_t connection_id) {
  if (unreported_start_ != connection_id) return;
  unreported_start_ = 0;
  channel_->Send(MessageType::kProgramStarted,
                 EncodePayload(ProgramStarted{connection_id, kInProcess}));
}

void ChildLoop::AnswerDatagramInProcess(const Datagram& datagram) {
  uint64_t id = datagram.connection.id;
  double started = MonotonicSeconds();
  channel_->Send(MessageType::kProgramStarted, EncodePayload(ProgramStarted{id, kInProcess}));
  std::string reply = BuiltinDatagramReply(service_.program.builtin, datagram.bytes, time(nullptr));
  // RFC 862 echoes an empty datagram too; discard's empty answer is no answer.
  if (!reply.empty() || service_.program.builtin == BuiltinService::kEcho) {
    channel_->Send(MessageType::kDatagramReply, EncodePayload(DatagramReply{id, std::move(reply)}));
  }
  channel_->Send(MessageType::kProgramExited,
                 EncodePayload(ProgramExited{id, kInProcess, 0, MicrosecondsSince(started)}));
}

void ChildLoop::LaunchWaiting() {
  while (!waiting_.empty() &&
         Launch(waiting_.front().connection, waiting_.front().fd, waiting_.front().tls_env)) {
    waiting_.pop_front();
  }
  if (waiting_.empty()) channel_->ResumeReading();
}

void ChildLoop::FailWaiting(const std::string& reason) {
  if (tls_) tls_->FailAll(reason);
  for (Waiting& waiting : waiting_) {
    channel_->Send(MessageType::kProgramFailed,
                   EncodePayload(ProgramFailed{waiting.connection.id, reason}));
  }
  waiting_.clear();
}

void ChildLoop::OnProgramsNoted(WireMessage& message) {
  ProgramsNoted noted;
  std::string error;
  if (!DecodePayload(message.payload, &noted, &error)) {
    channel_->Close("bad ProgramsNoted message: " + error);
    return;
  }
  if (noted.starts > starts_sent_ || noted.starts < starts_noted_) {
    channel_->Close("ProgramsNoted for " + std::to_string(noted.starts) + " starts, not between " +
                    std::to_string(starts_noted_) + " and " + std::to_string(starts_sent_));
    return;
  }
  starts_noted_ = noted.starts;
  ReapPrograms();  // what waited for it
}

pid_t ChildLoop::ReapNext(int* status) {
  if (starts_noted_ < starts_sent_) {
    siginfo_t ended{};
    if (waitid(P_ALL, 0, &ended, WEXITED | WNOHANG | WNOWAIT) != 0 || ended.si_pid <= 0) return 0;
    auto found = running_.find(ended.si_pid);
    if (found != running_.end() && found->second.start_number > starts_noted_) return 0;
    return waitpid(ended.si_pid, status, WNOHANG);
  }
  return waitpid(-1, status, WNOHANG);
}

void ChildLoop::ReapPrograms() {
  int status = 0;
  pid_t pid;
  while ((pid = ReapNext(&status)) > 0) {
    auto found = running_.find(pid);
    if (found == running_.end()) {
      if (tls_) tls_->Reaped(pid);
      continue;
    }
    ProgramExited exited{found->second.connection_id, pid, status,
                         MicrosecondsSince(found->second.started)};
    running_.erase(found);
    program_stderr_->ProgramExited(pid);  // its last lines before its exit
    std::string reply;                    // a datagram's answer goes before its exit
    if (datagram_programs_ && datagram_programs_->Finish(pid, &reply) && !reply.empty()) {
      channel_->Send(MessageType::kDatagramReply,
                     EncodePayload(DatagramReply{exited.connection_id, std::move(reply)}));
    }
    channel_->Send(MessageType::kProgramExited, EncodePayload(exited));
    if (exited.connection_id == kListenersConnectionId && wait_program_) {
      // A daemon it forked may still hold the sockets: gone before the next start.
      SweepNamespaceIfAny();
      wait_program_->Exited(static_cast<double>(exited.duration_us) / 1e6);
    }
  }
  LaunchWaiting();  // an ended program freed its stderr pipe
  FinishIfIdle();
}

void ChildLoop::SweepNamespaceIfAny() {
  if (!keeper_) return;
  std::string error;
  if (!SweepNamespace(keeper_, kSweepSeconds, &error)) {
    fprintf(stderr, "gatehouse-child[%s]: %s\n", service_.name.c_str(), error.c_str());
  }
}

void ChildLoop::StopAccepting() {
  stopping_ = true;
  FailWaiting("service is shutting down");
  if (wait_program_) {
    // It never ends by itself: TERM now, KILL after kill_grace, and no restart.
    wait_program_->Stop();
    EndPrograms(SIGTERM);
    timeval delay = Seconds(service_.program.kill_grace);
    event_add(kill_timer_.get(), &delay);
  }
  FinishIfIdle();
}

void ChildLoop::EndPrograms(int signal) {
  for (const auto& [pid, running] : running_) {
    kill(-pid, signal);  // the program leads its own process group
    kill(pid, signal);
  }
}

void ChildLoop::FinishIfIdle() {
  bool builtins_idle = !builtin_ || builtin_->connections() == 0;
  // A relay may still be sending its program's last bytes.
  bool relays_idle = !tls_ || tls_->relays() == 0;
  if (stopping_ && running_.empty() && builtins_idle && relays_idle) {
    event_base_loopexit(base_, nullptr);
  }
}

void ChildLoop::OnSigchld(evutil_socket_t, short, void* self) {
  static_cast<ChildLoop*>(self)->ReapPrograms();
}

void ChildLoop::OnSigterm(evutil_socket_t fd, short, void* self) {
  auto* child = static_cast<ChildLoop*>(self);
  uint64_t refused_before = child->refused_terms_;
  bool from_supervisor = ReadSupervisorTerm(fd, &child->refused_terms_);
  if (refused_before == 0 && child->refused_terms_ > 0) {
    fprintf(stderr, "gatehouse-child[%s]: ignoring SIGTERM from a program\n",
            child->service_.name.c_str());
  }
  if (!from_supervisor) return;
  child->stopping_ = true;
  child->FailWaiting("service is shutting down");
  if (child->wait_program_) child->wait_program_->Stop();
  child->EndPrograms(SIGTERM);
  if (child->builtin_) child->builtin_->EndAll();               // nothing of theirs needs a grace
  timeval delay = Seconds(child->service_.program.kill_grace);  // the service's TERM-to-KILL
  event_add(child->kill_timer_.get(), &delay);
  child->FinishIfIdle();
}

void ChildLoop::OnKillTimer(evutil_socket_t, short, void* self) {
  auto* child = static_cast<ChildLoop*>(self);
  child->EndPrograms(SIGKILL);
  if (child->tls_) child->tls_->KillRelays();
}

}  // namespace gatehouse
