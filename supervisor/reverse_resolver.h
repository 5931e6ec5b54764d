// ReverseResolver: reverse DNS lookups (reverse_lookups = 1) off the event loop.
// getnameinfo() blocks for as long as the resolver takes; a slow or hostile DNS
// server must not stall every other service, so lookups run on a few worker
// threads and their answers come back to the loop through an eventfd. The loop
// gives each lookup a deadline, so a DNS server that never answers cannot hold
// connections (and their fds) for longer than that.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/event_loop.h"
#include "common/log_throttle.h"
#include "common/socket_address.h"
#include "common/unique_fd.h"

namespace gatehouse {

// What a reverse lookup found. A failed lookup is not "no name": host-name
// rules must refuse the peer then, since its name might have matched a deny.
struct PeerName {
  enum Outcome { kName, kNoName, kFailed };
  Outcome outcome = kNoName;
  std::string name;    // kName: forward-confirmed, at most 253 bytes
  std::string reason;  // kFailed: why; kNoName: why a name found was not used ("" if none)
};

class ReverseResolver {
 public:
  using Done = std::function<void(const PeerName& found)>;

  // A lookup not answered within this has failed. It makes two queries (PTR, then
  // A/AAAA); with glibc's default timeout (5 s) each may wait out one dead name
  // server and the lookup still finishes in time.
  static constexpr double kDeadlineSeconds = 15;
  // Lookups under way or waiting (each holds its connection's fd); more at once
  // fail at once. 1,024 unless set at start from the fd budget (SharedPoolBound).
  static void SetMaxPending(size_t bound);

  explicit ReverseResolver(event_base* base);
  ~ReverseResolver();

  // Calls `done` on the loop's thread, never from within Lookup() itself except
  // when too many lookups are pending (then at once, kFailed).
  void Lookup(const SocketAddress& peer, Done done);

 private:
  // The blocking lookup a worker runs: getnameinfo(NI_NAMEREQD), then the name is
  // used only if getaddrinfo(name) gives the peer's address back (tcpd's PARANOID
  // check), so a PTR record alone cannot claim a name.
  static PeerName Resolve(const SocketAddress& peer);

  struct Request {
    uint64_t id = 0;
    SocketAddress peer;
    PeerName found;
  };
  struct Pending {
    Done done;
    double deadline = 0;
  };
  // Shared with the worker threads, which may outlive this object by one lookup.
  struct Shared {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Request> waiting;
    std::deque<Request> answered;
    UniqueFd notify;  // eventfd: answers are ready
    bool stopping = false;
  };

  static void Work(std::shared_ptr<Shared> shared);
  static void OnAnswers(evutil_socket_t fd, short what, void* self);
  static void OnDeadline(evutil_socket_t fd, short what, void* self);
  void StartWorkers();
  void ExpireOverdue();
  void ArmDeadlineTimer();
  void Finish(uint64_t id, const PeerName& found);

  std::shared_ptr<Shared> shared_;
  EventPtr answers_event_;
  EventPtr deadline_timer_;
  std::map<uint64_t, Pending> pending_;  // by id: the oldest first
  uint64_t next_id_ = 0;
  bool workers_started_ = false;
  LogThrottle log_throttle_;  // "goes on without a name", by peer: a DNS server decides it
};

}  // namespace gatehouse
