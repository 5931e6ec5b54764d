// Binary upgrade (SIGUSR2): the running gatehouse starts its successor — the
// same binary path re-read from disk, with the command line it was started
// with — and hands it every listening socket. The successor adopts the sockets
// whose key its config still names, binds the rest, and says "ready" on a pipe;
// only then does the old process stop accepting and drain. If the successor
// fails first, the old one keeps serving.
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

struct Successor {
  pid_t pid = 0;
  UniqueFd ready;  // reads "ready\n" when the successor serves; EOF when it failed
};

// Starts `image` with `listeners` (fd, key) open in it. The successor is our
// child (so its failure is seen) in its own process group (so a terminal's
// Ctrl-C meant for the old process does not reach it).
bool StartSuccessor(const ProcessImage& image,
                    const std::vector<std::pair<int, std::string>>& listeners,
                    Successor* successor, std::string* error);

// In the successor: the listeners handed over, by key, taken out of the
// environment so that nothing below inherits them. Empty when not upgrading.
ListenerMap TakeInheritedListeners(std::vector<std::string>* warnings);
// Moves into `adopted` the inherited listeners whose key `config` names (with
// the spec from the config); the others are closed.
void AdoptInheritedListeners(const Config& config, ListenerMap inherited, ListenerMap* adopted);
// The pid of the process being replaced, or 0 when not upgrading.
pid_t UpgradingFrom();
// Tells the old process that this one serves.
void ReportSuccessorReady();

}  // namespace gatehouse
