// ChildWatchdog: the one bound on how long, and on how much, the supervisor waits
// for a child. Each wait is an id (a connection the child has not reported
// started yet); a child is stuck or hostile when its oldest wait passes the
// timeout (child_stall_timeout) or when more waits pile up than the bound. The
// owner is then told once and ends the child. Waits are kept oldest first, so
// every operation is O(1) whatever their number: a hostile child cannot make
// the check itself expensive.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>

#include "common/event_loop.h"

namespace gatehouse {

class ChildWatchdog {
 public:
  // `why` reads as "a connection not reported started for 10 s".
  using Breach = std::function<void(const std::string& why)>;

  // `noun` names what is waited for ("connection"), `awaited` what is missing
  // ("not reported started"), for the reason given to `on_breach`.
  ChildWatchdog(event_base* base, double timeout_seconds, size_t max_waiting, std::string noun,
                std::string awaited, Breach on_breach);
  ChildWatchdog(const ChildWatchdog&) = delete;
  ChildWatchdog& operator=(const ChildWatchdog&) = delete;

  // Starts waiting for `id`. One wait more than the bound calls on_breach at once.
  void Expect(uint64_t id);
  // The child answered for `id`; unknown ids are ignored.
  void Heard(uint64_t id);
  // Forgets every wait (the child is gone or ended).
  void Clear();
  size_t waiting() const { return index_.size(); }

 private:
  struct Wait {
    uint64_t id;
    double since;  // MonotonicSeconds()
  };
  static void OnTimer(evutil_socket_t, short, void* self);
  void ArmFor(double seconds);

  double timeout_;
  size_t max_waiting_;
  std::string noun_;
  std::string awaited_;
  Breach on_breach_;
  EventPtr timer_;
  std::list<Wait> oldest_first_;
  std::unordered_map<uint64_t, std::list<Wait>::iterator> index_;
};

}  // namespace gatehouse
