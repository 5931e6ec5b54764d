#include "common/pidfd.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace gatehouse {

UniqueFd OpenPidfd(pid_t pid) {
  // pidfd_open sets close-on-exec itself.
  return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
}

pid_t PidOfPidfd(int fd) {
  std::string path = "/proc/self/fdinfo/" + std::to_string(fd);
  std::unique_ptr<FILE, int (*)(FILE*)> info(fopen(path.c_str(), "re"), fclose);
  if (!info) return 0;  // out of fds ourselves: unknown, not a lie
  char line[256];
  while (fgets(line, sizeof line, info.get()) != nullptr) {
    if (std::strncmp(line, "Pid:", 4) == 0) {
      long pid = std::strtol(line + 4, nullptr, 10);
      return pid > 0 ? static_cast<pid_t>(pid) : 0;  // -1: it has ended
    }
  }
  return -1;
}

}  // namespace gatehouse
