#include "child/supervisor_term.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace gatehouse {
namespace {
void Ignore(int) {}
}  // namespace

UniqueFd OpenSupervisorTermFd() {
  struct sigaction action {};
  action.sa_handler = Ignore;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, nullptr);
  return UniqueFd(signalfd(-1, &term, SFD_NONBLOCK | SFD_CLOEXEC));
}

bool ReadSupervisorTerm(int fd, uint64_t* refused) {
  bool from_supervisor = false;
  signalfd_siginfo info{};
  while (read(fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    pid_t sender = static_cast<pid_t>(info.ssi_pid);
    if (sender == 0 || sender == getppid()) {
      from_supervisor = true;
    } else {
      ++*refused;
    }
  }
  return from_supervisor;
}

}  // namespace gatehouse
