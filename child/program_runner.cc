#include "child/program_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "child/program_environment.h"
#include "common/sys_error.h"

namespace gatehouse {
namespace {

std::vector<char*> PointerArray(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

pid_t StartProgram(const ServiceDefinition& service, const ConnectionInfo& connection,
                   int connection_fd, UniqueFd* stderr_read, std::string* error) {
  // Both ends close-on-exec: the program gets the write end only as its fd 2, and
  // its writes block when the child falls behind (the read end alone is non-blocking).
  int stderr_pipe[2];
  if (pipe2(stderr_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    *error = ErrnoMessage("pipe2", "stderr of " + service.program.exec, err);
    return err == EMFILE || err == ENFILE ? kNoFdForStderr : -1;
  }
  UniqueFd stderr_write(stderr_pipe[1]);
  stderr_read->reset(stderr_pipe[0]);

  std::vector<std::string> argv_strings = service.program.argv;
  std::vector<std::string> env_strings = ProgramEnvironment(service, connection);
  std::vector<char*> argv = PointerArray(argv_strings);
  std::vector<char*> envp = PointerArray(env_strings);

  // posix_spawn (vfork-style in glibc) keeps the per-connection cost low. Every
  // other fd of ours is close-on-exec, so the program holds exactly 0, 1 and 2.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, connection_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, connection_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stderr_write.get(), STDERR_FILENO);

  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);  // SIGPIPE ignored by us, not by it
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, service.program.exec.c_str(), &actions, &attributes, argv.data(),
                       envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    *error = service.program.exec + ": " + std::strerror(rc);
    stderr_read->reset();
    return -1;
  }
  return pid;
}

}  // namespace gatehouse
