// The exec stage: the one place that prepares a program's process between fork
// and exec. The plan is built (and everything allocated) before the clone; the
// new process shares the child's memory (vfork-style) and runs only
// async-signal-safe system calls: every signal to its default disposition
// (real-time ones included), its own session, fds exactly 0-2 (and a wait
// service's listening sockets from 3), the working directory, its own pid in
// LISTEN_PID, an empty signal mask, then execve with a fresh environment.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace gatehouse {

// Room for a pid in decimal (pid_t's largest has 10 digits) and its NUL.
inline constexpr size_t kOwnPidSlotBytes = 11;
// As many as a wait service may pass (common/wire.h, kMaxListenFds).
inline constexpr int kMaxExtraFds = 64;

struct ExecPlan {
  const char* path = nullptr;  // absolute: no PATH search
  char* const* argv = nullptr;
  char* const* envp = nullptr;          // the whole environment: nothing is inherited
  const char* working_directory = "/";  // inside the chroot, which is already entered
  int fds[3] = {-1, -1, -1};            // become the program's stdin, stdout and stderr
  // mode = wait: the listening sockets, placed in this order on fds 3, 4, ...
  // (at most kMaxExtraFds).
  const int* extra_fds = nullptr;
  int extra_fd_count = 0;
  // When set: kOwnPidSlotBytes writable bytes inside one envp entry (after
  // "LISTEN_PID="), where the stage writes its own pid, in decimal, NUL-ended:
  // the pid the program sees (its PID namespace's), known only after the clone.
  char* own_pid_slot = nullptr;
  // Resource limits to set, count used.
  struct Limit {
    int resource;
    uint64_t soft;
    uint64_t hard;
  };
  Limit limits[8] = {};
  int limit_count = 0;
  int nice = 0;  // added with setpriority when not 0
  unsigned umask = 022;
};

// Runs the stage and returns the program's pid once it has exec'd. When a step
// fails, returns -1 with `*error` naming it ("/bin/cat: No such file or
// directory", "chdir /srv/www: Permission denied"); that process is reaped.
pid_t RunExecStage(const ExecPlan& plan, std::string* error);

}  // namespace gatehouse
