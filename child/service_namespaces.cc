#include "child/service_namespaces.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>

#include "child/privilege_drop.h"
#include "common/config/trusted_path.h"
#include "common/sys_error.h"

namespace gatehouse {
namespace {

constexpr char kSweep = 's';
constexpr char kSwept = 'd';

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

void ReapAll() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

// KILL to every process of the namespace but ourselves (pid 1), then reaped:
// whatever they started is ours by then, so no child left means none left.
void Sweep() {
  kill(-1, SIGKILL);
  while (waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }
}

// The keeper's whole life after its set-up: reap what the namespace's orphans
// leave, sweep when asked, and end when the lifeline does (the supervisor let
// go of the namespace, or is gone).
[[noreturn]] void KeepNamespace(int lifeline, UniqueFd link) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  UniqueFd chld_fd(signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC));
  while (true) {
    ReapAll();
    pollfd watched[3] = {
        {lifeline, POLLIN, 0}, {link ? link.get() : -1, POLLIN, 0}, {chld_fd.get(), POLLIN, 0}};
    if (poll(watched, 3, -1) < 0) continue;
    if (watched[0].revents != 0) _exit(0);  // the kernel ends the rest with us
    if (watched[2].revents != 0) {
      signalfd_siginfo info{};
      while (read(chld_fd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      }
    }
    if (watched[1].revents != 0) {
      char request = 0;
      ssize_t n = read(link.get(), &request, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // The serving process is gone. Its programs run on, ours to keep while the
        // supervisor holds the lifeline; without one, nobody would end us.
        if (lifeline < 0) _exit(0);
        link.reset();
        continue;
      }
      if (request == kSweep) Sweep();
      ssize_t sent = send(link.get(), &kSwept, 1, MSG_NOSIGNAL);
      (void)sent;  // a serving process gone meanwhile needs no answer
    }
  }
}

// In the keeper, right after the fork: its set-up, reported on `report` (empty:
// done), then KeepNamespace().
[[noreturn]] void RunKeeper(const JailSpec& jail, int control, int lifeline, UniqueFd report,
                            UniqueFd link) {
  close(control);  // the serving process's: the keeper never speaks to the supervisor
  std::string error;
  // Credentials change during the drop, which would clear a death signal: the
  // keeper has none, it must outlive the serving process.
  bool ready = MountPrivateProc(jail.chroot, &error) && DropAllPrivileges(jail, &error);
  if (ready && prctl(PR_SET_DUMPABLE, 0) != 0) {
    error = ErrnoMessage("prctl", "not dumpable", errno);
    ready = false;
  }
  ssize_t written = write(report.get(), error.data(), error.size());
  (void)written;  // the serving process reads EOF without the message: still a failure
  report.reset();
  if (!ready) _exit(1);
  KeepNamespace(lifeline, std::move(link));
}

}  // namespace

bool EnterServiceNamespaces(const JailSpec& jail, int control, int lifeline,
                            NamespaceKeeper* keeper, std::string* error) {
  int flags = CLONE_NEWPID | CLONE_NEWNS | (jail.private_network ? CLONE_NEWNET : 0);
  if (unshare(flags) != 0) {
    *error = ErrnoMessage("unshare", "PID and mount namespaces", errno);
    return false;
  }
  // Mounts made in this namespace (the private /proc) must never reach the host's.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    *error = ErrnoMessage("mount", "/ private", errno);
    return false;
  }
  int report[2], link[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    *error = ErrnoMessage("pipe2", "namespace keeper", errno);
    return false;
  }
  UniqueFd report_read(report[0]), report_write(report[1]);
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link) != 0) {
    *error = ErrnoMessage("socketpair", "namespace keeper", errno);
    return false;
  }
  UniqueFd ours(link[0]), its(link[1]);
  pid_t pid = fork();  // the first child: pid 1 of the new PID namespace
  if (pid < 0) {
    *error = ErrnoMessage("fork", "namespace keeper", errno);
    return false;
  }
  if (pid == 0) {
    report_read.reset();
    ours.reset();
    RunKeeper(jail, control, lifeline, std::move(report_write), std::move(its));
  }
  report_write.reset();
  its.reset();
  std::string said;
  char buffer[512];
  ssize_t n;
  while ((n = read(report_read.get(), buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) said.append(buffer, static_cast<size_t>(n));
  }
  int status = 0;
  if (!said.empty() || waitpid(pid, &status, WNOHANG) == pid) {
    if (said.empty()) said = "the namespace keeper ended during its set-up";
    *error = said;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return false;
  }
  keeper->pid = pid;
  keeper->link = std::move(ours);
  return true;
}

bool SweepNamespace(const NamespaceKeeper& keeper, double seconds, std::string* error) {
  // A confirmation that came after an earlier sweep timed out must not answer this one.
  char stale;
  while (recv(keeper.link.get(), &stale, 1, MSG_DONTWAIT) == 1) {
  }
  if (send(keeper.link.get(), &kSweep, 1, MSG_NOSIGNAL) != 1) {
    *error = ErrnoMessage("send", "sweep request to the namespace keeper", errno);
    return false;
  }
  pollfd answer{keeper.link.get(), POLLIN, 0};
  int ready;
  while ((ready = poll(&answer, 1, static_cast<int>(std::lround(seconds * 1000)))) < 0 &&
         errno == EINTR) {
  }
  char reply = 0;
  if (ready != 1 || read(keeper.link.get(), &reply, 1) != 1 || reply != kSwept) {
    *error = "the namespace keeper did not confirm the sweep";
    return false;
  }
  return true;
}

bool SealServingProcess(std::string* error) {
  if (prctl(PR_SET_DUMPABLE, 0) != 0) {
    *error = ErrnoMessage("prctl", "not dumpable", errno);
    return false;
  }
  return true;
}

}  // namespace gatehouse
