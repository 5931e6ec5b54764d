#include "supervisor/process_tree.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace gatehouse {

pid_t ParentOf(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/status";
  std::unique_ptr<FILE, int (*)(FILE*)> status(fopen(path.c_str(), "re"), fclose);
  if (!status) return 0;
  char line[256];
  while (fgets(line, sizeof line, status.get()) != nullptr) {
    if (strncmp(line, "PPid:", 5) == 0) return static_cast<pid_t>(strtol(line + 5, nullptr, 10));
  }
  return 0;
}

std::vector<pid_t> OwnChildren() {
  std::vector<pid_t> children;
  pid_t self = getpid();
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return children;
  while (dirent* entry = readdir(proc)) {
    if (!std::isdigit(static_cast<unsigned char>(entry->d_name[0]))) continue;
    pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (ParentOf(pid) == self) children.push_back(pid);
  }
  closedir(proc);
  return children;
}

size_t SignalOwnChildren(int signal, const std::set<pid_t>& spare) {
  size_t count = 0;
  for (pid_t child : OwnChildren()) {
    if (spare.count(child) > 0) continue;
    ++count;
    if (getpgid(child) == child) kill(-child, signal);
    kill(child, signal);
  }
  return count;
}

}  // namespace gatehouse
