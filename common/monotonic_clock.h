// Seconds on the monotonic clock: for durations, deadlines and back-off, which
// must not jump with the wall clock.
#pragma once

#include <time.h>

namespace gatehouse {

inline double MonotonicSeconds() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

}  // namespace gatehouse
