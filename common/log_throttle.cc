#include "common/log_throttle.h"

#include <algorithm>
#include <cstdio>

#include "common/log.h"
#include "common/monotonic_clock.h"

namespace gatehouse {

LogThrottle::LogThrottle(event_base* base, Emit emit, double window_seconds)
    : emit_(emit ? std::move(emit)
                 : Emit([](int level, const std::string& line) { Log(level, line); })),
      window_seconds_(window_seconds) {
  if (base) timer_.reset(evtimer_new(base, OnTimer, this));
}

LogThrottle::~LogThrottle() {
  for (auto& [name, kind] : kinds_) Flush(kind);
}

void LogThrottle::Note(const std::string& name, int level, const std::string& line,
                       uint64_t count) {
  if (count == 0) return;
  double now = MonotonicSeconds();
  Kind& kind = KindFor(name, now);
  kind.total += count;
  if (kind.window_end > now) {
    kind.unlogged += count;
    kind.level = level;
    kind.last_line = line;
    ArmTimer();
    return;
  }
  // The window is over: what it counted first (no timer ran), then this line.
  Flush(kind);
  kind.level = level;
  kind.last_line = line;
  kind.unlogged = count;
  Flush(kind);
  kind.window_end = now + window_seconds_;
}

LogThrottle::Kind& LogThrottle::KindFor(const std::string& name, double now) {
  auto found = kinds_.find(name);
  if (found != kinds_.end()) return found->second;
  if (kinds_.size() >= kMaxThrottleKinds) {
    for (auto it = kinds_.begin(); it != kinds_.end();) {
      bool idle = it->second.unlogged == 0 && it->second.window_end <= now;
      it = idle ? kinds_.erase(it) : std::next(it);
    }
  }
  if (kinds_.size() >= kMaxThrottleKinds) return kinds_["(more kinds)"];
  return kinds_[name];
}

uint64_t LogThrottle::total(const std::string& name) const {
  auto found = kinds_.find(name);
  return found == kinds_.end() ? 0 : found->second.total;
}

bool LogThrottle::Flush(Kind& kind) {
  if (kind.unlogged == 0) return false;
  std::string line = kind.last_line;
  if (kind.unlogged > 1) {
    char window[32];
    snprintf(window, sizeof window, "%g", window_seconds_);
    line += " (" + std::to_string(kind.unlogged - 1) + " more like this in " + window + " s)";
  }
  kind.unlogged = 0;
  emit_(kind.level, line);
  return true;
}

void LogThrottle::ArmTimer() {
  if (!timer_) return;
  double earliest = 0;
  for (const auto& [name, kind] : kinds_) {
    if (kind.unlogged > 0 && (earliest == 0 || kind.window_end < earliest)) {
      earliest = kind.window_end;
    }
  }
  event_del(timer_.get());
  if (earliest == 0) return;
  timeval wait = Seconds(std::max(0.0, earliest - MonotonicSeconds()));
  event_add(timer_.get(), &wait);
}

// A window is over: its count is logged and a new window opens, so that a flood
// that goes on gives one line per window.
void LogThrottle::OnTimer(evutil_socket_t, short, void* self) {
  auto* throttle = static_cast<LogThrottle*>(self);
  double now = MonotonicSeconds();
  for (auto& [name, kind] : throttle->kinds_) {
    // Timers fire a little early or late: a millisecond's slack.
    if (kind.unlogged == 0 || kind.window_end > now + 0.001) continue;
    throttle->Flush(kind);
    kind.window_end = now + throttle->window_seconds_;
  }
  throttle->ArmTimer();
}

}  // namespace gatehouse
