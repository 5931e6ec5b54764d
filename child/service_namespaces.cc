#include "child/service_namespaces.h"

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/config/trusted_path.h"
#include "common/sys_error.h"

namespace gatehouse {

void HoldNamespace(pid_t init) {
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGCHLD);
  sigprocmask(SIG_BLOCK, &wanted, nullptr);
  while (true) {
    siginfo_t info{};
    if (sigwaitinfo(&wanted, &info) < 0) continue;
    if (info.si_signo == SIGTERM) {
      kill(init, SIGTERM);
      continue;
    }
    int status = 0;
    if (waitpid(init, &status, WNOHANG) == init) {
      if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
      _exit(128 + WTERMSIG(status));
    }
  }
}

bool EnterServiceNamespaces(bool private_network, pid_t* init_pid, std::string* error) {
  int flags = CLONE_NEWPID | CLONE_NEWNS | (private_network ? CLONE_NEWNET : 0);
  if (unshare(flags) != 0) {
    *error = ErrnoMessage("unshare", "PID and mount namespaces", errno);
    return false;
  }
  // Mounts made in this namespace (the private /proc) must never reach the host's.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    *error = ErrnoMessage("mount", "/ private", errno);
    return false;
  }
  // TERM and CHLD are blocked from before fork in the holder, so none is lost.
  sigset_t wanted, previous;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGCHLD);
  sigprocmask(SIG_BLOCK, &wanted, &previous);
  pid_t init = fork();
  if (init < 0) {
    *error = ErrnoMessage("fork", "namespace init", errno);
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    return false;
  }
  *init_pid = init;
  if (init == 0) sigprocmask(SIG_SETMASK, &previous, nullptr);
  return true;  // the holder keeps TERM and CHLD blocked for HoldNamespace()
}

bool MountPrivateProc(const std::string& chroot, std::string* error) {
  // Not into a chroot that has been replaced since the supervisor checked it.
  if (std::string untrusted = chroot.empty() ? "" : UntrustedChroot(chroot); !untrusted.empty()) {
    *error = "chroot " + chroot + ": " + untrusted;
    return false;
  }
  std::string target = chroot.empty() ? "/proc" : chroot + "/proc";
  struct stat info {};
  if (stat(target.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return true;  // a chroot without /proc: its programs see no processes at all
  }
  const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount("proc", target.c_str(), "proc", flags, "hidepid=invisible") != 0 &&
      mount("proc", target.c_str(), "proc", flags, "hidepid=2") != 0) {
    *error = ErrnoMessage("mount", "proc on " + target, errno);
    return false;
  }
  return true;
}

bool SealInit(std::string* error) {
  // Credentials changed during the drop, which clears a death signal set earlier.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || prctl(PR_SET_DUMPABLE, 0) != 0) {
    *error = ErrnoMessage("prctl", "death signal, dumpable", errno);
    return false;
  }
  return true;
}

}  // namespace gatehouse
