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

ProcessCensus ProcessCensus::Take() {
  ProcessCensus census;
  std::unique_ptr<DIR, int (*)(DIR*)> proc(opendir("/proc"), closedir);
  if (!proc) return census;
  while (dirent* entry = readdir(proc.get())) {
    if (!std::isdigit(static_cast<unsigned char>(entry->d_name[0]))) continue;
    // /proc/PID/stat: "PID (COMM) STATE PPID ...", COMM may hold anything but
    // ends at the last ')'.
    std::string path = std::string("/proc/") + entry->d_name + "/stat";
    std::unique_ptr<FILE, int (*)(FILE*)> stat(fopen(path.c_str(), "re"), fclose);
    if (!stat) continue;  // gone meanwhile
    char line[1024];
    if (fgets(line, sizeof line, stat.get()) == nullptr) continue;
    const char* end_of_name = strrchr(line, ')');
    if (end_of_name == nullptr || end_of_name[1] == '\0') continue;
    char state = 0;
    int parent = 0;
    if (sscanf(end_of_name + 1, " %c %d", &state, &parent) != 2) continue;
    census.children_[parent].push_back(static_cast<pid_t>(std::atoi(entry->d_name)));
  }
  return census;
}

size_t ProcessCensus::DescendantsOf(pid_t root) const {
  if (root <= 0) return 0;
  size_t count = 0;
  std::vector<pid_t> next{root};
  // A pid is seen once: /proc is read entry by entry, and a pid that was reused
  // meanwhile cannot make a cycle longer than the table.
  for (size_t steps = 0; !next.empty() && steps <= children_.size(); ++steps) {
    std::vector<pid_t> below;
    for (pid_t pid : next) {
      auto found = children_.find(pid);
      if (found == children_.end()) continue;
      count += found->second.size();
      below.insert(below.end(), found->second.begin(), found->second.end());
    }
    next = std::move(below);
  }
  return count;
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
