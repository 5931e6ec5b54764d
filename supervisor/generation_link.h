// The link between two gatehouse generations that a binary upgrade (SIGUSR2)
// leaves running side by side: one SOCK_SEQPACKET socketpair per pair of living
// generations, an older one (draining its sessions) and a later one. Packets
// are short text, every one parsed and bounded here: neither side trusts the other.
//
//   older -> later: "programs" then "\nNAME COUNT" per service: the programs the
//                   older one still runs (its whole table each time it changes),
//                   which the later one counts against max_servers.
//   later -> older: "ready"              its direct successor serves (once);
//                   "stop SECONDS"       gatehouse stops: end your programs after
//                                        SECONDS, as TERM (0: QUIT) would;
//                   "successor PID" + 1 fd: a link to a newer generation PID,
//                                        which the older one must never end.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>

#include "common/event_loop.h"
#include "common/unique_fd.h"

namespace gatehouse {

// Which side the peer of a link is on, which decides what it may send.
enum class Generation { kOlder, kLater };

struct GenerationMessage {
  enum class Kind { kReady, kStop, kSuccessor, kPrograms };
  Kind kind = Kind::kReady;
  uint32_t seconds = 0;                    // kStop
  pid_t pid = 0;                           // kSuccessor
  std::map<std::string, size_t> programs;  // kPrograms: service name -> running programs
};

// Parses a packet from a peer on the `from` side carrying `fds` fds; false with
// `error` when the packet breaks the rules (the link is then closed).
bool ParseGenerationMessage(const std::string& packet, size_t fds, Generation from,
                            GenerationMessage* message, std::string* error);

std::string ReadyPacket();
std::string StopPacket(uint32_t seconds);
std::string SuccessorPacket(pid_t pid);
std::string ProgramsPacket(const std::map<std::string, size_t>& programs);

class GenerationLink {
 public:
  using MessageHandler =
      std::function<void(GenerationLink& link, GenerationMessage& message, UniqueFd fd)>;
  // Once, when the peer has gone (reason empty) or broke the rules.
  using ClosedHandler = std::function<void(GenerationLink& link, const std::string& reason)>;

  // `peer` is the pid of the generation at the other end (the one that handed
  // the link over said so); `side` is where it stands relative to us.
  GenerationLink(event_base* base, UniqueFd socket, pid_t peer, Generation side,
                 MessageHandler on_message, ClosedHandler on_closed);
  GenerationLink(const GenerationLink&) = delete;
  GenerationLink& operator=(const GenerationLink&) = delete;

  // Sends at once, or queues while the peer is slow. A programs table replaces
  // one still queued: only the latest counts.
  void Send(std::string packet, UniqueFd fd = UniqueFd());
  // Handles every packet already waiting (the first table, before the loop runs).
  void ReadAvailable();
  void Close(const std::string& reason);
  // Closes once what is queued has gone out (a successor's link must reach the peer).
  void CloseWhenSent();

  pid_t peer() const { return peer_; }
  Generation side() const { return side_; }
  bool open() const { return open_; }
  // The last programs table an older peer sent (empty once it has gone).
  const std::map<std::string, size_t>& programs() const { return programs_; }

 private:
  struct Outgoing {
    std::string packet;
    UniqueFd fd;
  };
  static void OnReadable(evutil_socket_t, short, void* self);
  static void OnWritable(evutil_socket_t, short, void* self);
  void Flush();

  UniqueFd socket_;
  pid_t peer_;
  Generation side_;
  MessageHandler on_message_;
  ClosedHandler on_closed_;
  EventPtr read_event_;
  EventPtr write_event_;
  std::deque<Outgoing> queue_;
  std::map<std::string, size_t> programs_;
  bool open_ = true;
  bool closing_ = false;
};

// Whether `fd` is a SOCK_SEQPACKET UNIX socket: what a link must be.
bool IsGenerationLinkSocket(int fd);

}  // namespace gatehouse
