// The exec stage: the one place that prepares a program's process between fork
// and exec. The plan is built (and everything allocated) before the clone; the
// new process shares the child's memory (vfork-style) and runs only
// async-signal-safe system calls: every signal to its default disposition
// (real-time ones included), its own session, fds exactly 0-2, the working
// directory, an empty signal mask, then execve with a fresh environment.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace gatehouse {

struct ExecPlan {
  const char* path = nullptr;  // absolute: no PATH search
  char* const* argv = nullptr;
  char* const* envp = nullptr;          // the whole environment: nothing is inherited
  const char* working_directory = "/";  // inside the chroot, which is already entered
  int fds[3] = {-1, -1, -1};            // become the program's stdin, stdout and stderr
  // Resource limits to set, count used.
  struct Limit {
    int resource;
    uint64_t soft;
    uint64_t hard;
  };
  Limit limits[8] = {};
  int limit_count = 0;
  int nice = 0;     // added with setpriority when not 0
  unsigned umask = 022;
};

// Runs the stage and returns the program's pid once it has exec'd. When a step
// fails, returns -1 with `*error` naming it ("/bin/cat: No such file or
// directory", "chdir /srv/www: Permission denied"); that process is reaped.
pid_t RunExecStage(const ExecPlan& plan, std::string* error);

}  // namespace gatehouse
