// Binary upgrade (SIGUSR2): the running gatehouse starts its successor — the
// same binary path re-read from disk, with the command line it was started
// with — and hands it every listening socket and a link to each generation
// still running (supervisor/generation_link.h): its own, and one to each older
// generation that still drains. The successor adopts the sockets whose key its
// config still names, binds the rest, and says "ready" on its link; only then
// does the old process stop accepting and drain. If the successor fails first
// (or is not ready within upgrade_timeout), the old one keeps serving.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/unique_fd.h"
#include "supervisor/listener.h"

namespace gatehouse {

// What to start again: the binary's path and the original command line, read
// from /proc/self at start (argv may be changed later; the file may be replaced).
struct ProcessImage {
  std::string path;
  std::vector<std::string> argv;
  // The soft RLIMIT_NOFILE at start, before gatehouse raised its own: the
  // successor starts with it again, so that its programs get it back too.
  uint64_t nofile_soft = 0;
};
ProcessImage CurrentProcessImage();

// A generation link handed to the successor: its end, and the pid of the
// generation at the other end.
struct InheritedLink {
  UniqueFd fd;
  pid_t peer = 0;
};

// Starts `image` with `listeners` (fd, key) and `links` (fd, the peer's pid)
// open in it; its pid, or 0 with `error`. The successor is our child (so its
// failure and exit status are seen) in its own process group (so a terminal's
// Ctrl-C meant for the old process does not reach it).
pid_t StartSuccessor(const ProcessImage& image,
                     const std::vector<std::pair<int, std::string>>& listeners,
                     const std::vector<std::pair<int, pid_t>>& links, std::string* error);

// In the successor: the listeners handed over, by key, taken out of the
// environment so that nothing below inherits them. Empty when not upgrading.
ListenerMap TakeInheritedListeners(std::vector<std::string>* warnings);
// Moves into `adopted` the inherited listeners whose key `config` names (with
// the spec from the config); the others are closed.
void AdoptInheritedListeners(const Config& config, ListenerMap inherited, ListenerMap* adopted);
// In the successor: the links to the generations still running (the one it
// replaces among them), taken out of the environment. Empty when not upgrading.
std::vector<InheritedLink> TakeGenerationLinks(std::vector<std::string>* warnings);
// The pid of the process being replaced, or 0 when not upgrading; taken out of
// the environment (so that nothing below inherits it).
pid_t TakeUpgradingFrom();

}  // namespace gatehouse
