#include "supervisor/upgrade.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/sys_error.h"
#include "supervisor/generation_link.h"

extern char** environ;

namespace gatehouse {
namespace {

// "FD KEY" lines: the listeners handed over.
constexpr const char* kListenersVariable = "GATEHOUSE_UPGRADE_LISTENERS";
// "FD PID" lines: the generation links handed over, and whom each reaches.
constexpr const char* kLinksVariable = "GATEHOUSE_UPGRADE_LINKS";
// The pid being replaced.
constexpr const char* kFromVariable = "GATEHOUSE_UPGRADE_FROM";

bool ParseNumber(const std::string& text, long max, long* value) {
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != text.npos) {
    return false;
  }
  *value = std::stol(text);
  return *value <= max;
}

// A listening socket, or a bound datagram socket (UDP, SOCK_DGRAM UNIX).
bool IsServingSocket(int fd) {
  int type = 0, accepting = 0;
  socklen_t length = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) return false;
  if (type == SOCK_DGRAM) {
    // Bound: a name of its own (a port, or a path).
    SocketAddress local = SocketAddress::Local(fd);
    return local.length > sizeof(sa_family_t) && (local.family() == AF_UNIX || local.Port() != 0);
  }
  length = sizeof accepting;
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 && accepting;
}

}  // namespace

ProcessImage CurrentProcessImage() {
  ProcessImage image;
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n > 0) image.path.assign(path, static_cast<size_t>(n));
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) image.nofile_soft = files.rlim_cur;
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  std::string word;
  while (std::getline(cmdline, word, '\0')) image.argv.push_back(word);
  return image;
}

pid_t StartSuccessor(const ProcessImage& image,
                     const std::vector<std::pair<int, std::string>>& listeners,
                     const std::vector<std::pair<int, pid_t>>& links, std::string* error) {
  // Everything the new process needs is prepared before fork(): after it, only
  // async-signal-safe calls (the resolver's threads may hold locks).
  std::string handed, linked;
  for (const auto& [fd, key] : listeners) handed += std::to_string(fd) + " " + key + "\n";
  for (const auto& [fd, peer] : links)
    linked += std::to_string(fd) + " " + std::to_string(peer) + "\n";
  std::vector<std::string> env_strings;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    std::string entry = *variable;
    if (entry.rfind("GATEHOUSE_UPGRADE_", 0) != 0) env_strings.push_back(entry);
  }
  env_strings.push_back(std::string(kListenersVariable) + "=" + handed);
  env_strings.push_back(std::string(kLinksVariable) + "=" + linked);
  env_strings.push_back(std::string(kFromVariable) + "=" + std::to_string(getpid()));
  std::vector<char*> envp, argv;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = image.argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  if (image.nofile_soft != 0) files.rlim_cur = image.nofile_soft;
  std::vector<int> inherit;
  for (const auto& [fd, key] : listeners) inherit.push_back(fd);
  for (const auto& [fd, peer] : links) inherit.push_back(fd);
  int log_file = LogFileDescriptor();

  pid_t pid = fork();
  if (pid < 0) {
    *error = ErrnoMessage("fork", "", errno);
    return 0;
  }
  if (pid == 0) {
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int fd : inherit) fcntl(fd, F_SETFD, 0);
    if (log_file >= 0) dup2(log_file, STDERR_FILENO);  // its errors before it opens the log
    setrlimit(RLIMIT_NOFILE, &files);  // as we were started: the successor raises it again
    execve(image.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

ListenerMap TakeInheritedListeners(std::vector<std::string>* warnings) {
  ListenerMap inherited;
  const char* text = getenv(kListenersVariable);
  if (text == nullptr) return inherited;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    size_t space = line.find(' ');
    long fd = -1;
    if (space == std::string::npos || !ParseNumber(line.substr(0, space), 1 << 20, &fd)) {
      warnings->push_back("upgrade: ignoring a malformed inherited listener \"" + line + "\"");
      continue;
    }
    // Only a listening socket, or a bound datagram socket, is adopted; anything
    // else is not ours to keep.
    UniqueFd socket_fd(static_cast<int>(fd));
    if (!IsServingSocket(socket_fd.get())) {
      warnings->push_back("upgrade: inherited fd " + std::to_string(fd) +
                          " is not a listening or bound datagram socket; ignored");
      socket_fd.release();  // not ours: leave it alone
      continue;
    }
    fcntl(socket_fd.get(), F_SETFD, FD_CLOEXEC);
    fcntl(socket_fd.get(), F_SETFL, fcntl(socket_fd.get(), F_GETFL) | O_NONBLOCK);
    Listener listener;
    listener.address = SocketAddress::Local(socket_fd.get());
    listener.fd = std::move(socket_fd);
    inherited[line.substr(space + 1)].push_back(std::move(listener));
  }
  unsetenv(kListenersVariable);
  return inherited;
}

void AdoptInheritedListeners(const Config& config, ListenerMap inherited, ListenerMap* adopted) {
  for (const ServiceConfig& service : config.services) {
    for (const ServicePort& port : service.ports) {
      std::string key = ListenerKey(service.name, port.spec);
      auto found = inherited.find(key);
      if (found == inherited.end()) continue;
      for (Listener& listener : found->second) {
        listener.service = service.name;
        listener.spec = port.spec;
        (*adopted)[key].push_back(std::move(listener));
      }
      inherited.erase(found);
    }
  }
  // The rest close here; a UNIX socket's file is the old process's to remove.
  for (auto& [key, listeners] : inherited) {
    for (Listener& listener : listeners) listener.owns_path = false;
  }
}

std::vector<InheritedLink> TakeGenerationLinks(std::vector<std::string>* warnings) {
  std::vector<InheritedLink> links;
  const char* text = getenv(kLinksVariable);
  if (text == nullptr) return links;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    size_t space = line.find(' ');
    long fd = -1, peer = 0;
    if (space == std::string::npos || !ParseNumber(line.substr(0, space), 1 << 20, &fd) ||
        !ParseNumber(line.substr(space + 1), 1 << 22, &peer) || peer < 2) {
      warnings->push_back("upgrade: ignoring a malformed generation link \"" + line + "\"");
      continue;
    }
    if (!IsGenerationLinkSocket(static_cast<int>(fd))) {
      warnings->push_back("upgrade: inherited fd " + std::to_string(fd) +
                          " is not a generation link; ignored");
      continue;  // not ours: leave it alone
    }
    InheritedLink link{UniqueFd(static_cast<int>(fd)), static_cast<pid_t>(peer)};
    fcntl(link.fd.get(), F_SETFD, FD_CLOEXEC);
    links.push_back(std::move(link));
  }
  unsetenv(kLinksVariable);
  return links;
}

pid_t TakeUpgradingFrom() {
  const char* text = getenv(kFromVariable);
  long pid = 0;
  if (text == nullptr || !ParseNumber(text, 1 << 22, &pid)) pid = 0;
  unsetenv(kFromVariable);
  return static_cast<pid_t>(pid);
}

}  // namespace gatehouse
