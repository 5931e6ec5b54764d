#include "supervisor/process_tree.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace gatehouse {
namespace {

pid_t ParentOf(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos || close + 2 >= stat.size()) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string state;
  pid_t parent = 0;
  fields >> state >> parent;
  return parent;
}

}  // namespace

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
