#include "supervisor/isolation_check.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gatehouse {

bool ServiceNamespacesAvailable(std::string* why_not) {
  if (geteuid() != 0) {
    *why_not = "gatehouse is not root";
    return false;
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    *why_not = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  pid_t probe = fork();
  if (probe == 0) {
    int err = unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET) == 0 ? 0 : errno;
    ssize_t ignored = write(pipe_fds[1], &err, sizeof err);
    (void)ignored;
    _exit(0);
  }
  close(pipe_fds[1]);
  int err = -1;
  if (probe < 0 || read(pipe_fds[0], &err, sizeof err) != static_cast<ssize_t>(sizeof err)) {
    err = probe < 0 ? errno : EIO;
  }
  close(pipe_fds[0]);
  if (probe > 0) waitpid(probe, nullptr, 0);
  if (err != 0) *why_not = std::string("unshare: ") + std::strerror(err);
  return err == 0;
}

}  // namespace gatehouse
