#include "supervisor/supervisor.h"

#include <signal.h>
#include <sys/wait.h>

#include "common/log.h"

namespace gatehouse {
namespace {
// After the grace period children get TERM; this much later, KILL.
constexpr double kKillAfterTermSeconds = 5;
}  // namespace

Supervisor::Supervisor(Config config, std::vector<Listener> listeners, std::string child_program)
    : config_(std::move(config)),
      listeners_(std::move(listeners)),
      child_program_(std::move(child_program)),
      base_(event_base_new()),
      resolver_(std::make_unique<ReverseResolver>(base_.get())) {
  for (int signal : {SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGHUP, SIGUSR1}) {
    signal_events_.emplace_back(evsignal_new(base_.get(), signal, OnSignal, this));
    event_add(signal_events_.back().get(), nullptr);
  }
  grace_timer_.reset(evtimer_new(base_.get(), OnGraceExpired, this));
  kill_timer_.reset(evtimer_new(base_.get(), OnKillTimer, this));

  for (const ServiceConfig& service_config : config_.services) {
    auto service = std::make_unique<Service>();
    service->config = service_config;
    service->child = std::make_unique<ChildProcess>(base_.get(), service->config, child_program_);
    for (Listener& listener : listeners_) {
      if (listener.service != service_config.name) continue;
      ChildProcess* child = service->child.get();
      acceptors_.push_back(std::make_unique<Acceptor>(
          base_.get(), &listener, &service->config, resolver_.get(),
          [child](UniqueFd connection, const ConnectionInfo& info, const std::string& peer) {
            child->Dispatch(std::move(connection), info, peer);
          }));
      Log(kLogNotice, service_config.name + ": listening on " + listener.Describe());
    }
    services_.push_back(std::move(service));
  }
}

Supervisor::~Supervisor() {
  // Acceptors and children hold events of base_: free them before it.
  acceptors_.clear();
  services_.clear();
  resolver_.reset();
  signal_events_.clear();
  grace_timer_.reset();
  kill_timer_.reset();
}

int Supervisor::Run() {
  for (auto& service : services_) service->child->Start();
  Log(kLogNotice, "ready: " + std::to_string(services_.size()) + " services on " +
                      std::to_string(listeners_.size()) + " listeners");
  event_base_dispatch(base_.get());
  Log(kLogNotice, "stopped");
  return 0;
}

void Supervisor::BeginShutdown(double grace_seconds, const char* why) {
  if (!stopping_) {
    stopping_ = true;
    Log(kLogNotice, std::string(why) + ": no new connections; programs get " +
                        std::to_string(static_cast<int>(grace_seconds)) + " s to finish");
    for (auto& acceptor : acceptors_) acceptor->Stop();
    acceptors_.clear();
    listeners_.clear();  // closes the sockets, removes UNIX socket files
    for (auto& service : services_) service->child->Shutdown();
  } else {
    grace_seconds = 0;  // a second signal: do not wait any longer
  }
  timeval grace = Seconds(grace_seconds);
  event_add(grace_timer_.get(), &grace);
  FinishIfDone();
}

void Supervisor::OnGraceExpired(evutil_socket_t, short, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  for (auto& service : supervisor->services_) service->child->Signal(SIGTERM);
  timeval delay = Seconds(kKillAfterTermSeconds);
  event_add(supervisor->kill_timer_.get(), &delay);
}

void Supervisor::OnKillTimer(evutil_socket_t, short, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  for (auto& service : supervisor->services_) {
    if (service->child->running()) {
      Log(kLogWarning, service->config.name + ": child did not end; killing it");
      service->child->Signal(SIGKILL);
    }
  }
}

void Supervisor::ReapChildren() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    bool ours = false;
    for (auto& service : services_) {
      if (service->child->pid() == pid) {
        service->child->OnExit(status);
        ours = true;
      }
    }
    // As subreaper we also inherit programs whose child died before them.
    if (!ours) Log(kLogDebug, "reaped orphaned program pid " + std::to_string(pid));
  }
  FinishIfDone();
}

void Supervisor::FinishIfDone() {
  if (!stopping_) return;
  for (auto& service : services_) {
    if (service->child->running()) return;
  }
  event_base_loopexit(base_.get(), nullptr);
}

void Supervisor::LogStatus() {
  for (auto& service : services_) {
    const ChildProcess& child = *service->child;
    Log(kLogNotice, "status: " + service->config.name + ": child pid " +
                        std::to_string(child.pid()) + ", " + std::to_string(child.connections()) +
                        " connections running");
  }
}

void Supervisor::OnSignal(evutil_socket_t signal, short, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  switch (signal) {
    case SIGTERM:
    case SIGINT:
      supervisor->BeginShutdown(supervisor->config_.global.shutdown_timeout,
                                signal == SIGTERM ? "SIGTERM" : "SIGINT");
      return;
    case SIGQUIT:
      supervisor->BeginShutdown(0, "SIGQUIT");
      return;
    case SIGCHLD:
      supervisor->ReapChildren();
      return;
    case SIGUSR1:
      supervisor->LogStatus();
      return;
    case SIGHUP:
      Log(kLogWarning, "SIGHUP: reloading is not implemented yet; the running config stays");
      return;
  }
}

}  // namespace gatehouse
