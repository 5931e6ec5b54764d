#include "supervisor/isolation_check.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gatehouse {

namespace {

bool Probe(std::string* why_not) {
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

}  // namespace

bool ServiceNamespacesAvailable(std::string* why_not) {
  // Probed once (the kernel and our privileges do not change while we run).
  static std::string reason;
  static const bool available = Probe(&reason);
  *why_not = reason;
  return available;
}

std::string DescribeIsolation(bool available, const std::string& why_not) {
  if (available) {
    return "isolation: each service in its own PID and mount namespace, with a private /proc";
  }
  return "isolation: no namespaces (" + why_not +
         "): services are apart only by their uid, and programs can see other processes in /proc";
}

void CheckPrivateNetwork(const Config& config, bool available, const std::string& why_not,
                         std::vector<std::string>* errors) {
  if (available) return;
  for (const ServiceConfig& service : config.services) {
    if (service.jail.private_network) {
      errors->push_back(service.where + ": private_network: needs network namespaces, which " +
                        "are not available (" + why_not + ")");
    }
  }
}

}  // namespace gatehouse
