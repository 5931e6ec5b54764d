#include "supervisor/service.h"

#include <algorithm>

#include "common/log.h"
#include "common/monotonic_clock.h"
#include "supervisor/acceptor.h"

namespace gatehouse {

Service::Service(event_base* base, std::string name, std::string child_program,
                 std::function<void()> on_change)
    : base_(base),
      name_(std::move(name)),
      child_program_(std::move(child_program)),
      on_change_(std::move(on_change)),
      orphans_(base, name_, &counters_),
      pause_timer_(evtimer_new(base, OnPauseOver, this)),
      dropped_replies_(std::make_shared<DroppedReplies>(base)),
      log_throttle_(base) {}

bool Service::Configure(std::shared_ptr<const ServiceConfig> config) {
  if (config_ && SameService(*config_, *config)) {
    if (current_) current_->SendTlsFiles();  // renewed files, same service
    return false;
  }
  bool replacing = current_ != nullptr;
  // A change ends the running programs only when the new config asks for it.
  if (replacing) DrainCurrent(MustEndPrograms(*config_, config.get()));
  bool same_budget = config_ && config_->udp_reply_burst == config->udp_reply_burst &&
                     config_->udp_reply_rate == config->udp_reply_rate;
  config_ = std::move(config);
  if (!same_budget) {
    reply_budget_ =
        config_->udp_reply_burst > 0
            ? std::make_shared<SourceBudget>(config_->udp_reply_burst, config_->udp_reply_rate)
            : nullptr;
  }
  current_ = std::make_unique<ChildProcess>(base_, config_, child_program_, &counters_, &orphans_,
                                            [this] { OnChildChanged(); });
  current_->Start();
  if (replacing) Log(kLogNotice, name_ + ": changed; new child for new connections");
  return true;
}

void Service::Retire() {
  if (config_ == nullptr) return;
  DrainCurrent(MustEndPrograms(*config_, nullptr));
  config_ = nullptr;
  Log(kLogNotice, name_ + ": removed; its child takes no more connections");
}

void Service::Shutdown() {
  // Fork-mode programs get shutdown_timeout to finish; a wait program never
  // finishes by itself, so it gets TERM now and KILL after kill_grace.
  if (current_) DrainCurrent(config_ && config_->program.mode == ServiceMode::kWait);
}

void Service::SetListeningFds(std::function<std::vector<int>()> listening_fds) {
  listening_fds_ = std::move(listening_fds);
}

bool Service::MustEndPrograms(const ServiceConfig& running, const ServiceConfig* next) {
  if (running.program.mode == ServiceMode::kWait) return true;
  const ServiceConfig& deciding = next != nullptr ? *next : running;
  return deciding.reload_programs == ReloadPrograms::kEnd;
}

void Service::DrainCurrent(bool end_programs) {
  std::unique_ptr<ChildProcess> old = std::move(current_);
  old->Drain(end_programs);
  if (old->state() != ChildProcess::State::kEnded) draining_.push_back(std::move(old));
  on_change_();
}

void Service::Dispatch(UniqueFd connection, const ConnectionInfo& info, const std::string& peer) {
  if (current_ == nullptr) {
    log_throttle_.Note("removed", kLogWarning, name_ + ": " + peer + " refused: service removed");
    ++counters_.failed;
    return;
  }
  if (config_->max_servers_action == MaxServersAction::kReject &&
      programs() >= static_cast<size_t>(config_->max_servers)) {
    RejectBusy(connection, peer);
    return;  // closed by UniqueFd
  }
  SourceSlots::Slot slot;
  if (config_->per_source > 0 && !info.peer_ip.empty()) {
    std::string source = SourceSlots::KeyOf(info.peer_ip, config_->per_source_prefix6);
    if (sources_.Count(source) >= config_->per_source) {
      WriteRefusalText(connection.get(), config_->banner_fail);
      ++counters_.denied;
      log_throttle_.Note("per_source", kLogNotice,
                         name_ + ": " + peer + " refused: " + source + " has " +
                             std::to_string(config_->per_source) + " connections (per_source)");
      return;  // closed by UniqueFd
    }
    slot = sources_.Take(source);
  }
  current_->Dispatch(std::move(connection), info, peer, std::move(slot));
  if (config_->cps_rate > 0) CountForRate();
}

void Service::DispatchDatagram(const Datagram& datagram, const std::string& peer,
                               DatagramReplySender reply) {
  if (current_ == nullptr) {
    ++counters_.failed;
    return;
  }
  if (programs() >= static_cast<size_t>(config_->max_servers)) {
    ++busy_;
    log_throttle_.Note("busy datagram", kLogNotice,
                       name_ + ": datagram from " + peer +
                           " dropped: " + std::to_string(config_->max_servers) +
                           " datagrams in flight (max_servers)");
    return;
  }
  current_->DispatchDatagram(datagram, peer, WithinReplyBudget(datagram, peer, std::move(reply)));
}

DatagramReplySender Service::WithinReplyBudget(const Datagram& datagram, const std::string& peer,
                                               DatagramReplySender reply) {
  if (!reply_budget_ || datagram.connection.proto != "UDP") return reply;
  // The closure may outlive this service (a reply after its removal): it holds
  // what it needs, and builds its log line only when it drops.
  return [budget = reply_budget_, drops = dropped_replies_,
          source = SourceSlots::KeyOf(datagram.connection.peer_ip, 64), service = name_, peer,
          burst = config_->udp_reply_burst, rate = config_->udp_reply_rate,
          reply = std::move(reply)](const std::string& bytes) {
    if (budget->Take(source, MonotonicSeconds())) {
      reply(bytes);
      return;
    }
    ++drops->count;
    drops->log_throttle.Note("udp_reply_budget", kLogNotice,
                             service + ": no reply to " + peer + ": " + source +
                                 " is over udp_reply_budget (" + std::to_string(burst) +
                                 " at once, " + std::to_string(rate) +
                                 " a second): a loop between UDP services, or a flood");
  };
}

bool Service::HasUdpPort() const {
  return config_ &&
         std::any_of(config_->ports.begin(), config_->ports.end(),
                     [](const ServicePort& port) { return port.spec.protocol == Protocol::kUdp; });
}

bool Service::receiving_datagrams() const {
  return current_ != nullptr && current_->state() == ChildProcess::State::kReady;
}

void Service::RejectBusy(const UniqueFd& connection, const std::string& peer) {
  WriteRefusalText(connection.get(),
                   config_->busy_message.empty() ? config_->banner_fail : config_->busy_message);
  ++busy_;
  log_throttle_.Note("busy", kLogNotice,
                     name_ + ": " + peer + " rejected: " + std::to_string(config_->max_servers) +
                         " programs running (max_servers_action = reject)");
}

void Service::CountForRate() {
  double now = MonotonicSeconds();
  if (now - second_started_ >= 1) {
    second_started_ = now;
    in_this_second_ = 0;
  }
  if (++in_this_second_ <= config_->cps_rate || paused_) return;
  paused_ = true;
  log_throttle_.Note("cps", kLogNotice,
                     name_ + ": more than " + std::to_string(config_->cps_rate) +
                         " connections in a second; pausing for " +
                         std::to_string(config_->cps_wait) + " s (cps)");
  timeval wait = Seconds(config_->cps_wait);
  event_add(pause_timer_.get(), &wait);
  on_change_();
}

void Service::OnPauseOver(evutil_socket_t, short, void* self) {
  auto* service = static_cast<Service*>(self);
  service->paused_ = false;
  service->second_started_ = MonotonicSeconds();
  service->in_this_second_ = 0;
  service->on_change_();
}

// A ready child, and fewer programs than max_servers across all the service's
// children (a reload's draining ones too, so that a reload cannot double it);
// with max_servers_action = reject it accepts on, and Dispatch turns clients away.
bool Service::accepting() const {
  if (current_ == nullptr || current_->state() != ChildProcess::State::kReady || paused_) {
    return false;
  }
  // mode = wait: its program accepts, never we (nor while an older one still may).
  if (config_->program.mode == ServiceMode::kWait || WaitChildDraining()) return false;
  return config_->max_servers_action == MaxServersAction::kReject ||
         programs() < static_cast<size_t>(config_->max_servers);
}

bool Service::settled() const {
  return current_ == nullptr || current_->state() != ChildProcess::State::kStarting;
}

bool Service::restarting() const {
  return current_ != nullptr && current_->state() == ChildProcess::State::kRestarting;
}

bool Service::finished() const {
  return retired() && current_ == nullptr && draining_.empty() && orphans_.size() == 0;
}

bool Service::OnReaped(pid_t pid, int wait_status) {
  if (current_ && current_->pid() == pid) {
    current_->OnExit(wait_status);
    return true;
  }
  for (auto it = draining_.begin(); it != draining_.end(); ++it) {
    if ((*it)->pid() == pid) {
      (*it)->OnExit(wait_status);  // a draining child that exits has ended
      draining_.erase(it);
      OnChildChanged();  // its program's sockets may be free for the new one now
      return true;
    }
  }
  bool program = orphans_.Reaped(pid, wait_status) ||
                 (current_ && current_->ProgramReaped(pid, wait_status)) ||
                 std::any_of(draining_.begin(), draining_.end(),
                             [&](const std::unique_ptr<ChildProcess>& child) {
                               return child->ProgramReaped(pid, wait_status);
                             });
  if (program) on_change_();  // a max_servers slot is free
  return program;
}

void Service::Signal(int signal) {
  if (current_) current_->Signal(signal);
  for (auto& child : draining_) child->Signal(signal);
}

bool Service::running() const {
  if (current_ && current_->running()) return true;
  return std::any_of(draining_.begin(), draining_.end(),
                     [](const std::unique_ptr<ChildProcess>& child) { return child->running(); });
}

bool Service::HasProgramsAs(uint32_t uid) const {
  auto holds = [uid](const ChildProcess& child) {
    return child.config().jail.uid == uid && child.connections() > 0;
  };
  if (current_ && holds(*current_)) return true;
  if (orphans_.HasProgramsAs(uid)) return true;
  return std::any_of(draining_.begin(), draining_.end(),
                     [&](const std::unique_ptr<ChildProcess>& child) { return holds(*child); });
}

size_t Service::own_programs() const {
  size_t count = orphans_.size() + (current_ ? current_->connections() : 0);
  for (const auto& child : draining_) count += child->connections();
  return count;
}

std::string Service::Status(const std::string& listeners, const ProcessCensus& census) const {
  std::string line = name_ + ": mode " +
                     (config_ ? ModeDescription(config_->program) : "(removed)") + ", listeners " +
                     (listeners.empty() ? "none" : listeners);
  if (current_) {
    line += ", child " + std::to_string(current_->pid()) + " " +
            ChildProcess::StateName(current_->state());
    if (config_ && config_->program.mode == ServiceMode::kWait) {
      line += ", " + current_->WaitProgramStatus();
    }
  } else {
    line += ", removed";
  }
  if (paused_) line += ", paused (cps)";
  for (const auto& child : draining_) {
    line += ", child " + std::to_string(child->pid()) + " draining (" +
            std::to_string(child->connections()) + " programs)";
  }
  if (orphans_.size() > 0) {
    line += ", " + std::to_string(orphans_.size()) + " programs of ended children";
  }
  line += ", programs " + std::to_string(programs()) +
          (config_ ? " of " + std::to_string(config_->max_servers) : "");
  if (older_programs_ > 0) {
    line += " (" + std::to_string(older_programs_) + " in older gatehouse generations)";
  }
  line += ", served " + std::to_string(counters_.served) + ", denied " +
          std::to_string(counters_.denied) + ", failed " + std::to_string(counters_.failed) +
          ", exit_nonzero " + std::to_string(counters_.exit_nonzero) + ", busy " +
          std::to_string(busy_);
  // Everything the programs started counts too (a program that forks 1,500
  // children is one program): what descends from each child's serving process,
  // and from the programs of ended children.
  size_t processes = (current_ ? current_->ProcessesOf(census) : 0) + orphans_.ProcessesOf(census);
  for (const auto& child : draining_) processes += child->ProcessesOf(census);
  line += ", processes " + std::to_string(processes);
  if (HasUdpPort() || dropped_replies_->count > 0) {
    line += ", over_udp_reply_budget " + std::to_string(dropped_replies_->count);
  }
  return line;
}

// mode = wait: the listening sockets go to one child at a time.

void Service::OnChildChanged() {
  HandOverListeners();
  on_change_();
}

void Service::HandOverListeners() {
  if (current_ == nullptr || !current_->AwaitsListeners() || WaitChildDraining()) return;
  std::vector<int> fds = listening_fds_ ? listening_fds_() : std::vector<int>{};
  if (fds.empty()) return;  // not bound yet (Apply in progress): asked again on the next change
  current_->SendListeners(fds);
}

bool Service::WaitChildDraining() const {
  return std::any_of(
      draining_.begin(), draining_.end(), [](const std::unique_ptr<ChildProcess>& child) {
        return child->running() && child->config().program.mode == ServiceMode::kWait;
      });
}

uint32_t Service::LongestKillGrace() const {
  uint32_t longest = config_ ? config_->program.kill_grace : 0;
  if (current_) longest = std::max(longest, current_->config().program.kill_grace);
  for (const auto& child : draining_) {
    longest = std::max(longest, child->config().program.kill_grace);
  }
  return longest;
}

}  // namespace gatehouse
