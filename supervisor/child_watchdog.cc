#include "supervisor/child_watchdog.h"

#include <cstdio>

#include "common/monotonic_clock.h"

namespace gatehouse {
namespace {
// A timer may fire a hair early: a wait this close to its deadline is due.
constexpr double kSlackSeconds = 0.001;
}  // namespace

ChildWatchdog::ChildWatchdog(event_base* base, double timeout_seconds, size_t max_waiting,
                             std::string noun, std::string awaited, Breach on_breach)
    : timeout_(timeout_seconds),
      max_waiting_(max_waiting),
      noun_(std::move(noun)),
      awaited_(std::move(awaited)),
      on_breach_(std::move(on_breach)),
      timer_(evtimer_new(base, OnTimer, this)) {}

void ChildWatchdog::Expect(uint64_t id) {
  if (index_.count(id) != 0) return;
  oldest_first_.push_back(Wait{id, MonotonicSeconds()});
  index_[id] = std::prev(oldest_first_.end());
  // One timer for all waits: it fires for the oldest and re-arms for the next.
  if (!evtimer_pending(timer_.get(), nullptr)) ArmFor(timeout_);
  if (index_.size() > max_waiting_) {
    on_breach_("more than " + std::to_string(max_waiting_) + " " + noun_ + "s " + awaited_);
  }
}

void ChildWatchdog::Heard(uint64_t id) {
  auto found = index_.find(id);
  if (found == index_.end()) return;
  oldest_first_.erase(found->second);
  index_.erase(found);
}

void ChildWatchdog::Clear() {
  event_del(timer_.get());
  oldest_first_.clear();
  index_.clear();
}

void ChildWatchdog::ArmFor(double seconds) {
  timeval delay = Seconds(seconds);
  event_add(timer_.get(), &delay);
}

void ChildWatchdog::OnTimer(evutil_socket_t, short, void* self) {
  auto* watchdog = static_cast<ChildWatchdog*>(self);
  if (watchdog->oldest_first_.empty()) return;
  double age = MonotonicSeconds() - watchdog->oldest_first_.front().since;
  if (age + kSlackSeconds < watchdog->timeout_) {
    watchdog->ArmFor(watchdog->timeout_ - age);
    return;
  }
  char seconds[32];
  snprintf(seconds, sizeof seconds, "%g s", watchdog->timeout_);
  watchdog->on_breach_("a " + watchdog->noun_ + " " + watchdog->awaited_ + " for " + seconds +
                       " (" + std::to_string(watchdog->waiting()) + " waiting)");
}

}  // namespace gatehouse
