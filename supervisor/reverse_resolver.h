// ReverseResolver: reverse DNS lookups (reverse_lookups = 1) off the event loop.
// getnameinfo() blocks for as long as the resolver takes; a slow or hostile DNS
// server must not stall every other service, so lookups run on a few worker
// threads and their answers come back to the loop through an eventfd.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/event_loop.h"
#include "common/socket_address.h"
#include "common/unique_fd.h"

namespace gatehouse {

class ReverseResolver {
 public:
  using Done = std::function<void(const std::optional<std::string>& host)>;

  explicit ReverseResolver(event_base* base);
  ~ReverseResolver();

  // Calls `done` on the loop's thread with the peer's name, or nullopt when it
  // has none (or when too many lookups are already waiting).
  void Lookup(const SocketAddress& peer, Done done);

 private:
  struct Job {
    SocketAddress peer;
    Done done;
    std::optional<std::string> host;
  };
  // Shared with the worker threads, which may outlive this object by one lookup.
  struct Shared {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::unique_ptr<Job>> waiting;
    std::deque<std::unique_ptr<Job>> answered;
    UniqueFd notify;  // eventfd: answers are ready
    bool stopping = false;
  };

  static void Work(std::shared_ptr<Shared> shared);
  static void OnAnswers(evutil_socket_t fd, short what, void* self);
  void StartWorkers();

  std::shared_ptr<Shared> shared_;
  EventPtr answers_event_;
  bool workers_started_ = false;
};

}  // namespace gatehouse
