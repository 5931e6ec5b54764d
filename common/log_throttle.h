// LogThrottle: the one rate limit for log lines that clients or programs can
// repeat (denials, refusals, accept errors, dropped output). Each kind logs its
// first line at once, then at most one line per window (10 s): what came in
// between is counted, and the window's end logs the last of them with
// " (N more like this in 10 s)". Every line stands for 1 + N events, so the lines
// of a flood add up to its size. A kind quiet for a whole window logs its next
// line at once again. Kinds may name a client's address ("denied 127.0.0.2"):
// at most kMaxKinds are kept; beyond that, idle ones are forgotten, and if none
// is idle the new ones share one kind.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "common/event_loop.h"

namespace gatehouse {

inline constexpr double kLogThrottleSeconds = 10;
inline constexpr size_t kMaxThrottleKinds = 1024;

class LogThrottle {
 public:
  using Emit = std::function<void(int level, const std::string& line)>;

  // `base` runs the end-of-window timer (nullptr: counts are logged only by a
  // later line of the kind or by the destructor). `emit` defaults to Log().
  explicit LogThrottle(event_base* base, Emit emit = nullptr,
                       double window_seconds = kLogThrottleSeconds);
  LogThrottle(const LogThrottle&) = delete;
  LogThrottle& operator=(const LogThrottle&) = delete;
  ~LogThrottle();  // logs what is counted and not yet logged

  // One event of `kind` (a fixed name: "per_source", "accept"); `line` is what
  // the log says about it. `count` events at once add that many.
  void Note(const std::string& kind, int level, const std::string& line, uint64_t count = 1);
  // Events noted so far, logged or counted, by kind (for status lines).
  uint64_t total(const std::string& kind) const;

 private:
  struct Kind {
    double window_end = 0;  // MonotonicSeconds(); 0: no window open
    int level = 0;
    std::string last_line;  // of the events counted in this window
    uint64_t unlogged = 0;  // events in this window not yet logged
    uint64_t total = 0;
  };
  // Logs `kind`'s counted events, if any; true if it did.
  bool Flush(Kind& kind);
  // The entry for `name`, or the shared one when the table is full.
  Kind& KindFor(const std::string& name, double now);
  void ArmTimer();
  static void OnTimer(evutil_socket_t, short, void* self);

  Emit emit_;
  double window_seconds_;
  EventPtr timer_;
  std::map<std::string, Kind> kinds_;
};

}  // namespace gatehouse
