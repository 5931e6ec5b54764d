#include "child/wait_program.h"

#include <algorithm>

#include "child/exec_stage.h"
#include "child/program_environment.h"
#include "child/program_runner.h"

namespace gatehouse {
namespace {

bool IsListenVariable(const std::string& entry) {
  for (const char* name : {"LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES="}) {
    if (entry.rfind(name, 0) == 0) return true;
  }
  return false;
}

}  // namespace

WaitProgram::WaitProgram(event_base* base, const ServiceDefinition& service, int null_fd,
                         Hooks hooks)
    : service_(service), null_fd_(null_fd), hooks_(std::move(hooks)) {
  restart_timer_.reset(evtimer_new(base, OnRestartTimer, this));
}

std::vector<std::string> WaitProgram::Environment(const ServiceDefinition& service,
                                                  const std::vector<std::string>& names,
                                                  int* own_pid_entry) {
  std::vector<std::string> env = ServiceEnvironment(service, 3);
  // Ours alone: one from env= would mislead sd_listen_fds.
  env.erase(std::remove_if(env.begin(), env.end(), IsListenVariable), env.end());
  env.push_back("LISTEN_FDS=" + std::to_string(names.size()));
  *own_pid_entry = static_cast<int>(env.size());
  env.push_back("LISTEN_PID=" + std::string(kOwnPidSlotBytes, '\0'));
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ":") + name;
  env.push_back("LISTEN_FDNAMES=" + joined);
  return env;
}

bool WaitProgram::Receive(const ListenFd& listen_fd, UniqueFd fd, std::string* error) {
  if (count_ != 0 && fds_.size() == count_) {
    *error = "ListenFd after all " + std::to_string(count_) + " were received";
    return false;
  }
  // The decoder checked the count's range, the index against it and the name;
  // what is left is the sequence across messages and the exec stage's room.
  if (listen_fd.count > static_cast<uint32_t>(kMaxExtraFds)) {
    *error = "ListenFd count " + std::to_string(listen_fd.count) + " out of range";
    return false;
  }
  if (count_ != 0 && listen_fd.count != count_) {
    *error = "ListenFd count changed from " + std::to_string(count_);
    return false;
  }
  if (listen_fd.index != fds_.size()) {
    *error = "ListenFd index " + std::to_string(listen_fd.index) + " where " +
             std::to_string(fds_.size()) + " was due";
    return false;
  }
  if (!fd) {
    *error = "ListenFd without its fd";
    return false;
  }
  count_ = listen_fd.count;
  fds_.push_back(std::move(fd));
  names_.push_back(listen_fd.name);
  if (fds_.size() == count_) Start();
  return true;
}

void WaitProgram::Start() {
  if (stopped_) return;
  ProgramLaunch launch;
  launch.stdin_fd = fds_.front().get();
  launch.stdout_fd = fds_.front().get();
  for (const UniqueFd& fd : fds_) launch.extra_fds.push_back(fd.get());
  launch.env = Environment(service_, names_, &launch.own_pid_entry);
  UniqueFd stderr_read;
  std::string error;
  pid_t pid = StartProgramWith(service_, launch, null_fd_, &stderr_read, &error);
  if (pid < 0) {
    hooks_.failed(error);
    StartLater();
    return;
  }
  hooks_.started(pid, std::move(stderr_read));
}

void WaitProgram::Exited(double ran_seconds) {
  if (stopped_) return;
  if (ran_seconds >= kSteadyRunSeconds) {
    delay_ = kFirstDelaySeconds;
    Start();
  } else {
    StartLater();
  }
}

void WaitProgram::StartLater() {
  if (stopped_) return;
  timeval delay = Seconds(delay_);
  event_add(restart_timer_.get(), &delay);
  delay_ = std::min(delay_ * 2, kMaxDelaySeconds);
}

void WaitProgram::Stop() {
  stopped_ = true;
  event_del(restart_timer_.get());
}

void WaitProgram::OnRestartTimer(evutil_socket_t, short, void* self) {
  static_cast<WaitProgram*>(self)->Start();
}

}  // namespace gatehouse
