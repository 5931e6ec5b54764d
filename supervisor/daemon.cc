#include "supervisor/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "common/sys_error.h"
#include "common/unique_fd.h"

namespace gatehouse {

bool Daemonize(bool background, bool setsid, std::string* error) {
  if (!background && !setsid) return true;
  pid_t pid = fork();
  if (pid < 0) {
    *error = ErrnoMessage("fork", "(background)", errno);
    return false;
  }
  if (pid > 0) _exit(0);  // _exit: the listeners' destructors must not run here
  if (setsid && ::setsid() < 0) {
    *error = ErrnoMessage("setsid", "", errno);
    return false;
  }
  UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null) {
    *error = ErrnoMessage("open", "/dev/null", errno);
    return false;
  }
  dup2(null.get(), STDIN_FILENO);
  dup2(null.get(), STDOUT_FILENO);
  if (setsid) dup2(null.get(), STDERR_FILENO);
  return true;
}

bool WritePidFile(const std::string& path, pid_t replacing, std::string* error) {
  if (path.empty()) return true;
  std::ifstream existing(path);
  long old_pid = 0;
  if (existing >> old_pid && old_pid > 1 && old_pid != getpid() && old_pid != replacing &&
      kill(static_cast<pid_t>(old_pid), 0) == 0) {
    *error =
        "pid_file " + path + " names pid " + std::to_string(old_pid) + ", which is still running";
    return false;
  }
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) {
    *error = ErrnoMessage("open", "pid_file " + path, errno);
    return false;
  }
  std::string text = std::to_string(getpid()) + "\n";
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    *error = ErrnoMessage("write", "pid_file " + path, errno);
    return false;
  }
  return true;
}

void RemovePidFile(const std::string& path) {
  if (path.empty()) return;
  std::ifstream existing(path);
  long pid = 0;
  if (existing >> pid && pid == getpid()) unlink(path.c_str());
}

}  // namespace gatehouse
