// ProgramDeadlines: a service's `timeout`. Every program of a service gets the
// same timeout and the same kill_grace and they start one after the other, so
// their deadlines come due in the order they were set: two queues (TERM, then
// KILL) and one timer, O(1) per program however many run.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "common/event_loop.h"

namespace gatehouse {

class ProgramDeadlines {
 public:
  // `is_running(pid, connection)`: whether that program still runs (a reaped
  // pid may name a newer program by now).
  ProgramDeadlines(event_base* base, uint32_t timeout, uint32_t kill_grace, std::string service,
                   std::function<bool(pid_t, uint64_t)> is_running);
  // A program started: TERM to its process group after `timeout` seconds, KILL
  // `kill_grace` seconds later. Nothing when the timeout is 0.
  void Started(pid_t pid, uint64_t connection);

 private:
  struct Due {
    double at;  // MonotonicSeconds()
    pid_t pid;
    uint64_t connection;
  };
  static void OnTimer(evutil_socket_t, short, void* self);
  void Arm();

  uint32_t timeout_;
  uint32_t kill_grace_;
  std::string service_;
  std::function<bool(pid_t, uint64_t)> is_running_;
  std::deque<Due> term_;
  std::deque<Due> kill_;
  EventPtr timer_;
};

}  // namespace gatehouse
