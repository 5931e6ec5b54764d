#include "child/program_deadlines.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>

#include "common/monotonic_clock.h"

namespace gatehouse {

ProgramDeadlines::ProgramDeadlines(event_base* base, uint32_t timeout, uint32_t kill_grace,
                                   std::string service,
                                   std::function<bool(pid_t, uint64_t)> is_running)
    : timeout_(timeout),
      kill_grace_(kill_grace),
      service_(std::move(service)),
      is_running_(std::move(is_running)),
      timer_(evtimer_new(base, OnTimer, this)) {}

void ProgramDeadlines::Started(pid_t pid, uint64_t connection) {
  if (timeout_ == 0) return;
  term_.push_back(Due{MonotonicSeconds() + timeout_, pid, connection});
  if (term_.size() == 1 && kill_.empty()) Arm();
}

void ProgramDeadlines::Arm() {
  double next = -1;
  if (!term_.empty()) next = term_.front().at;
  if (!kill_.empty()) next = next < 0 ? kill_.front().at : std::min(next, kill_.front().at);
  if (next < 0) return;
  timeval wait = Seconds(std::max(0.0, next - MonotonicSeconds()));
  event_add(timer_.get(), &wait);
}

void ProgramDeadlines::OnTimer(evutil_socket_t, short, void* self) {
  auto* deadlines = static_cast<ProgramDeadlines*>(self);
  double now = MonotonicSeconds();
  // The program leads its own session and process group: the group holds what
  // it started (a descendant that made a session of its own does not; the
  // service's PID namespace ends those with the service).
  while (!deadlines->term_.empty() && deadlines->term_.front().at <= now) {
    Due due = deadlines->term_.front();
    deadlines->term_.pop_front();
    if (!deadlines->is_running_(due.pid, due.connection)) continue;
    // The child's stderr is logged by the supervisor as "SERVICE child: ...".
    fprintf(stderr, "gatehouse-child[%s]: program %d ran past its timeout of %u s; TERM\n",
            deadlines->service_.c_str(), static_cast<int>(due.pid), deadlines->timeout_);
    kill(-due.pid, SIGTERM);
    kill(due.pid, SIGTERM);
    deadlines->kill_.push_back(Due{now + deadlines->kill_grace_, due.pid, due.connection});
  }
  while (!deadlines->kill_.empty() && deadlines->kill_.front().at <= now) {
    Due due = deadlines->kill_.front();
    deadlines->kill_.pop_front();
    if (!deadlines->is_running_(due.pid, due.connection)) continue;
    kill(-due.pid, SIGKILL);
    kill(due.pid, SIGKILL);
  }
  deadlines->Arm();
}

}  // namespace gatehouse
