// LogThrottle on a real event loop (with a short window): one line at once, then
// one per window, and the lines of a flood add up to its size.
#include "common/log_throttle.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/monotonic_clock.h"

namespace gatehouse {
namespace {

constexpr double kWindow = 0.2;

struct Captured {
  std::vector<std::string> lines;
  LogThrottle::Emit Sink() {
    return [this](int, const std::string& line) { lines.push_back(line); };
  }
  // Each line stands for itself and the N of its "(N more like this".
  uint64_t Events() const {
    uint64_t events = 0;
    for (const std::string& line : lines) {
      size_t more = line.rfind(" (");
      events += 1;
      if (more != std::string::npos && line.find("more like this", more) != std::string::npos) {
        events += std::strtoull(line.c_str() + more + 2, nullptr, 10);
      }
    }
    return events;
  }
};

void RunLoopFor(event_base* base, double seconds) {
  timeval limit = Seconds(seconds);
  event_base_loopexit(base, &limit);
  event_base_dispatch(base);
}

TEST(LogThrottle, AFloodGivesOneLineAtOnceThenOneLinePerWindowAddingUpToItsSize) {
  EventBasePtr base(event_base_new());
  Captured captured;
  LogThrottle throttle(base.get(), captured.Sink(), kWindow);
  constexpr int kFlood = 1000;
  for (int i = 0; i < kFlood; ++i) {
    throttle.Note("denied", 2, "denied client " + std::to_string(i));
  }
  ASSERT_EQ(captured.lines.size(), 1u);
  EXPECT_EQ(captured.lines[0], "denied client 0");
  RunLoopFor(base.get(), kWindow * 1.5);  // the window ends: its count is logged
  ASSERT_EQ(captured.lines.size(), 2u);
  EXPECT_EQ(captured.lines[1], "denied client 999 (998 more like this in 0.2 s)");
  EXPECT_EQ(captured.Events(), static_cast<uint64_t>(kFlood));
  EXPECT_EQ(throttle.total("denied"), static_cast<uint64_t>(kFlood));
}

TEST(LogThrottle, AFloodThatGoesOnGivesOneLinePerWindow) {
  EventBasePtr base(event_base_new());
  Captured captured;
  uint64_t noted = 0;
  {
    LogThrottle throttle(base.get(), captured.Sink(), kWindow);
    double end = MonotonicSeconds() + kWindow * 5;
    while (MonotonicSeconds() < end) {
      for (int i = 0; i < 50; ++i, ++noted) throttle.Note("accept", 1, "accept: EMFILE");
      RunLoopFor(base.get(), 0.01);
    }
    // 5 windows: a line at the start and one at the end of each, give or take one.
    EXPECT_GE(captured.lines.size(), 4u);
    EXPECT_LE(captured.lines.size(), 7u);
  }  // the last window's count comes with the destructor
  EXPECT_EQ(captured.Events(), noted);
}

TEST(LogThrottle, KindsAreIndependentAndAQuietKindLogsAtOnceAgain) {
  EventBasePtr base(event_base_new());
  Captured captured;
  LogThrottle throttle(base.get(), captured.Sink(), kWindow);
  throttle.Note("a", 2, "a1");
  throttle.Note("b", 2, "b1");
  throttle.Note("a", 2, "a2");
  EXPECT_EQ(captured.lines, (std::vector<std::string>{"a1", "b1"}));
  RunLoopFor(base.get(), kWindow * 1.5);
  EXPECT_EQ(captured.lines, (std::vector<std::string>{"a1", "b1", "a2"}));
  RunLoopFor(base.get(), kWindow * 1.5);  // a whole window without "a"
  throttle.Note("a", 2, "a3");
  EXPECT_EQ(captured.lines.back(), "a3");
}

TEST(LogThrottle, CountsOfManyEventsAtOnceAddUp) {
  Captured captured;
  {
    LogThrottle throttle(nullptr, captured.Sink(), 60);
    throttle.Note("dropped", 1, "output dropped", 500);
    throttle.Note("dropped", 1, "output dropped", 250);
    throttle.Note("dropped", 1, "output dropped", 0);
  }
  EXPECT_EQ(captured.lines,
            (std::vector<std::string>{"output dropped (499 more like this in 60 s)",
                                      "output dropped (249 more like this in 60 s)"}));
  EXPECT_EQ(captured.Events(), 750u);
}

TEST(LogThrottle, KindsBeyondTheBoundShareOne) {
  Captured captured;
  {
    LogThrottle throttle(nullptr, captured.Sink(), 60);
    for (size_t i = 0; i < kMaxThrottleKinds + 500; ++i) {
      throttle.Note("source " + std::to_string(i), 2, "denied " + std::to_string(i));
    }
    // Every kind's window is open: the ones past the bound share one line.
    EXPECT_EQ(captured.lines.size(), kMaxThrottleKinds + 1);
  }
  EXPECT_EQ(captured.Events(), kMaxThrottleKinds + 500);
}

}  // namespace
}  // namespace gatehouse
