// WaitProgram: the one program of a mode = wait service (inetd wait, systemd
// Accept=no). It collects the listening sockets the supervisor passes (ListenFd,
// one per message, in order), then runs the program through the exec stage with
// them: the first on stdin and stdout, all of them on fds 3.. with LISTEN_FDS,
// LISTEN_PID (the program's own pid) and LISTEN_FDNAMES. When the program exits
// it is started again: at once after a run of kSteadyRunSeconds or more, else
// after a back-off of 1 s doubling to 30 s.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "common/unique_fd.h"
#include "common/wire.h"

namespace gatehouse {

class WaitProgram {
 public:
  static constexpr double kSteadyRunSeconds = 10;
  static constexpr double kFirstDelaySeconds = 1;
  static constexpr double kMaxDelaySeconds = 30;

  struct Hooks {
    // The program runs as `pid`; `stderr_read` is its stderr pipe (or empty).
    std::function<void(pid_t pid, UniqueFd stderr_read)> started;
    // It could not be started (exec failure, no fds): why.
    std::function<void(const std::string& reason)> failed;
  };

  // `service` and `null_fd` (/dev/null for stderr = null) outlive this.
  WaitProgram(event_base* base, const ServiceDefinition& service, int null_fd, Hooks hooks);

  // One decoded ListenFd message and its fd. Starts the program once all have
  // come. False with `error` when the message breaks the sequence (index,
  // count, more after the last) or there is no fd.
  bool Receive(const ListenFd& listen_fd, UniqueFd fd, std::string* error);
  // The program ended after running `ran_seconds`: it starts again, at once or
  // after the back-off.
  void Exited(double ran_seconds);
  // The service stops: no start from now on.
  void Stop();

  // The environment for one start: the service's env= entries (USER, HOME, ...),
  // PATH, LISTEN_FDS, LISTEN_PID with room for the pid, LISTEN_FDNAMES.
  // `own_pid_entry` gets the index of LISTEN_PID.
  static std::vector<std::string> Environment(const ServiceDefinition& service,
                                              const std::vector<std::string>& names,
                                              int* own_pid_entry);

 private:
  void Start();
  // After a failed or short run: the next start in the current delay, which doubles.
  void StartLater();
  static void OnRestartTimer(evutil_socket_t, short, void* self);

  const ServiceDefinition& service_;
  int null_fd_;
  Hooks hooks_;
  std::vector<UniqueFd> fds_;
  std::vector<std::string> names_;
  uint32_t count_ = 0;  // from the first ListenFd
  EventPtr restart_timer_;
  double delay_ = kFirstDelaySeconds;
  bool stopped_ = false;
};

}  // namespace gatehouse
