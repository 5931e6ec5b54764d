// attacker: a hostile service program for the isolation tests. It reads one
// line of target pids from its client, tries on each what a compromised program
// would (signals, ptrace, /proc reads), writes one result line per attempt
// ("kill 1234 STOP: No such process"), then "done". Statically linked: it runs
// in an empty chroot too. Its own child (its parent, pid 1 in a PID namespace)
// is always among the targets.
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace {

void Report(const std::string& what, int result) {
  std::string line = what + ": " + (result == 0 ? std::string("ok") : std::strerror(errno)) + "\n";
  if (write(1, line.data(), line.size()) < 0) _exit(1);
}

void Attack(pid_t target) {
  std::string t = std::to_string(target);
  for (const char* file : {"environ", "status", "cmdline", "stat"}) {
    int fd = open(("/proc/" + t + "/" + file).c_str(), O_RDONLY);
    char byte;
    int result = fd >= 0 && read(fd, &byte, 1) >= 0 ? 0 : -1;
    if (fd >= 0) close(fd);
    Report("read " + t + " " + file, result);
  }
  int traced = static_cast<int>(ptrace(PTRACE_ATTACH, target, nullptr, nullptr));
  Report("ptrace " + t, traced == 0 ? 0 : -1);
  if (traced == 0) {
    waitpid(target, nullptr, __WALL);
    ptrace(PTRACE_DETACH, target, nullptr, nullptr);
  }
  // The harmless signals first: a stopped or killed target would end the test.
  Report("kill " + t + " STOP", kill(target, SIGSTOP));
  Report("kill " + t + " CONT", kill(target, SIGCONT));
  Report("kill " + t + " TERM", kill(target, SIGTERM));
  Report("kill " + t + " KILL", kill(target, SIGKILL));
}

}  // namespace

int main() {
  std::string line;
  char c;
  while (read(0, &c, 1) == 1 && c != '\n') line += c;
  std::vector<pid_t> targets = {getppid(), 1};
  std::istringstream words(line);
  long pid;
  while (words >> pid) targets.push_back(static_cast<pid_t>(pid));
  for (pid_t target : targets) {
    if (target > 0 && target != getpid()) Attack(target);
  }
  if (write(1, "done\n", 5) < 0) return 1;
  char buffer[256];
  while (read(0, buffer, sizeof buffer) > 0) {
  }
  return 0;
}
