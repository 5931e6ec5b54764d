#include "supervisor/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>

#include "common/config/trusted_path.h"
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

// Written as root, at start and by an upgrade's successor: opened as the log is
// (common/config/trusted_path.h), and read through the same fd before it is
// truncated, so no symlink or file of another user is ever written.
bool WritePidFile(const std::string& path, pid_t replacing, std::string* error) {
  if (path.empty()) return true;
  UniqueFd fd = OpenTrustedFileForWriting(path, "pid_file", O_RDWR, 0644, error);
  if (!fd) return false;
  char old[32] = {};
  ssize_t got = pread(fd.get(), old, sizeof old - 1, 0);
  long old_pid = got > 0 ? std::strtol(old, nullptr, 10) : 0;
  if (old_pid > 1 && old_pid != getpid() && old_pid != replacing &&
      kill(static_cast<pid_t>(old_pid), 0) == 0) {
    *error =
        "pid_file " + path + " names pid " + std::to_string(old_pid) + ", which is still running";
    return false;
  }
  std::string text = std::to_string(getpid()) + "\n";
  if (got > 0 && std::string(old) == text) return true;  // ours already (a failed successor's)
  // Written over the old text, then cut to length: a reader never finds it
  // empty (truncated first, it did: a test read pid 0 in between).
  if (pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
      ftruncate(fd.get(), static_cast<off_t>(text.size())) != 0) {
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
