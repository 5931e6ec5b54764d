// gatehouse-child: runs one service for the supervisor. Started by gatehouse with
// the control socket on fd 3; never run by hand.
//
// Process flow:
//   1. every signal at its default and unblocked (then the few it sets itself);
//      keep fd 3 (control socket) and 0-2, close everything else
//   2. receive the ServiceDefinition from the supervisor
//   3. enter the service's own PID and mount namespaces (and network, with
//      private_network): the first child is the namespace's keeper (pid 1,
//      mounts a private /proc, drops everything, only reaps and holds the
//      namespace while the supervisor holds its lifeline on fd 4); this process
//      stays in the parent PID namespace and its programs are born in the new one;
//      it binds the service's /dev/log (dev_log) in the new mount namespace
//   4. open /dev/null for stderr = null (a chroot may have none)
//   5. drop privileges: chroot, groups, gid, uid, capabilities, no_new_privs;
//      sealed (not dumpable)
//   6. check that the program and its working directory are there, inside the chroot
//      (mode = builtin has no program: it serves in this process)
//   7. serve: a program per connection fd (or a built-in on the loop), reports
//      back, until told to stop
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <string>

#include "child/child_loop.h"
#include "child/dev_log.h"
#include "child/privilege_drop.h"
#include "child/service_namespaces.h"
#include "common/default_signals.h"
#include "common/message_packet.h"
#include "common/message_table.h"
#include "common/sys_error.h"
#include "common/wire.h"

namespace gatehouse {
namespace {

constexpr int kControlFd = 3;
// The read end of the supervisor's lifeline for the service's namespace: the
// keeper holds the namespace until it ends.
constexpr int kLifelineFd = 4;
constexpr int kDefinitionTimeoutMs = 10000;

[[noreturn]] void Fail(const std::string& reason) {
  SendMessage(kControlFd, MessageType::kFatal, EncodePayload(FatalError{reason}));
  fprintf(stderr, "gatehouse-child: %s\n", reason.c_str());
  _exit(1);
}

// Returns the lifeline (-1 when the supervisor passed none).
int CloseInheritedFds() {
  // Boost.Process's fd binding leaves these without close-on-exec.
  fcntl(kControlFd, F_SETFD, FD_CLOEXEC);
  struct stat lifeline {};
  bool has_lifeline = fstat(kLifelineFd, &lifeline) == 0 && S_ISFIFO(lifeline.st_mode);
  if (has_lifeline) fcntl(kLifelineFd, F_SETFD, FD_CLOEXEC);
  int first = has_lifeline ? kLifelineFd + 1 : kControlFd + 1;
  if (syscall(SYS_close_range, first, ~0U, 0) != 0) {
    for (int fd = first; fd < 1024; ++fd) close(fd);
  }
  return has_lifeline ? kLifelineFd : -1;
}

ServiceDefinition ReceiveDefinition() {
  pollfd control{kControlFd, POLLIN, 0};
  if (poll(&control, 1, kDefinitionTimeoutMs) != 1) Fail("no service definition from gatehouse");
  WireMessage message;
  std::string error;
  if (ReceiveMessage(kControlFd, &message, &error) != ReceiveStatus::kMessage) {
    Fail("expected a ServiceDefinition: " + (error.empty() ? "the channel closed" : error));
  }
  if (!MessageAllowed(message.type, Sender::kSupervisor, LinkState::kStarting, &error)) {
    Fail("expected a ServiceDefinition: " + error);
  }
  ServiceDefinition service;
  if (!DecodePayload(message.payload, &service, &error)) Fail("bad ServiceDefinition: " + error);
  return service;
}

void CheckProgram(const ServiceDefinition& service) {
  const std::string& exec = service.program.exec;
  const std::string& chroot = service.jail.chroot;
  struct stat info {};
  if (stat(exec.c_str(), &info) != 0) {
    Fail(ErrnoMessage("stat", exec + (chroot.empty() ? "" : " in chroot " + chroot), errno));
  }
  if (access(exec.c_str(), X_OK) != 0) {
    Fail(ErrnoMessage("access", exec + " as uid " + std::to_string(getuid()), errno));
  }
  // Each program enters it; a missing one would fail every connection.
  const std::string& dir = service.program.working_directory;
  int err = stat(dir.c_str(), &info) != 0 ? errno : !S_ISDIR(info.st_mode) ? ENOTDIR : 0;
  if (err == 0 && access(dir.c_str(), X_OK) != 0) err = errno;
  if (err != 0)
    Fail(ErrnoMessage("chdir", dir + (chroot.empty() ? "" : " in chroot " + chroot), err));
}

// The service's /dev/log, or none (said on stderr, which the log shows): the
// service runs either way.
UniqueFd OpenDevLog(const ServiceDefinition& service) {
  std::string skipped, error;
  UniqueFd socket = BindDevLog(service.jail.chroot, &skipped, &error);
  std::string why = error.empty() ? skipped : error;
  if (!why.empty()) fprintf(stderr, "dev_log: no /dev/log for the programs: %s\n", why.c_str());
  return socket;
}

UniqueFd OpenNullIfWanted(const ServiceDefinition& service) {
  if (service.program.stderr_target != StderrTarget::kNull) return UniqueFd();
  UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null) Fail(ErrnoMessage("open", "/dev/null for stderr = null", errno));
  return null;
}

}  // namespace
}  // namespace gatehouse

int main() {
  using namespace gatehouse;
  struct stat control {};
  if (fstat(kControlFd, &control) != 0 || !S_ISSOCK(control.st_mode)) {
    fprintf(stderr, "gatehouse-child: started by gatehouse only (no control socket on fd 3)\n");
    return 2;
  }
  DefaultSignals();
  signal(SIGPIPE, SIG_IGN);
  // Ctrl-C reaches the whole foreground process group; the supervisor decides
  // how connections end (and uses TERM for that), so the terminal's signals are
  // not ours. Programs get every signal reset to default.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  UniqueFd lifeline(CloseInheritedFds());

  ServiceDefinition service = ReceiveDefinition();
  std::string error;
  NamespaceKeeper keeper;
  UniqueFd dev_log;
  if (service.jail.namespaces) {
    if (!EnterServiceNamespaces(service.jail, kControlFd, lifeline ? lifeline.get() : -1, &keeper,
                                &error)) {
      Fail("namespaces: " + error);
    }
    // A built-in runs no program that could log.
    if (service.jail.dev_log && service.program.mode != ServiceMode::kBuiltin) {
      dev_log = OpenDevLog(service);
    }
  }
  lifeline.reset();  // the keeper's alone
  UniqueFd null_fd = OpenNullIfWanted(service);
  // The built-in daytime answers in the host's time zone, which a chroot may hide.
  tzset();
  if (!DropPrivileges(service.jail, &error)) Fail("privilege drop failed: " + error);
  if (service.jail.namespaces && !SealServingProcess(&error)) Fail("namespaces: " + error);
  if (service.program.mode != ServiceMode::kBuiltin) CheckProgram(service);

  EventBasePtr base(event_base_new());
  if (!base) Fail("event_base_new failed");
  ChildLoop child(base.get(), UniqueFd(kControlFd), std::move(service), std::move(null_fd),
                  std::move(keeper));
  if (dev_log) child.ReadDevLog(std::move(dev_log));
  return child.Run();
}
