// ProgramOutputLog: where one service child's programs' stderr (ProgramOutput
// messages) and the child's own stderr meet the log. Every line is logged at
// notice as "SERVICE[PID]: text" or "SERVICE child: text", bounded to
// kMaxOutputLine bytes and sanitised by Log(); at most kOutputLinesPerSecond
// per service child (a burst of as many); the rest are dropped and counted in a
// throttled warning ("SERVICE: program output dropped (over 100 lines/s)", then
// one line per 10 s with how many more). The limit is kept here, not in the
// child, because the child is not trusted to keep it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "common/log_throttle.h"

namespace gatehouse {

inline constexpr double kOutputLinesPerSecond = 100;

class ProgramOutputLog {
 public:
  ProgramOutputLog(event_base* base, std::string service);
  ProgramOutputLog(const ProgramOutputLog&) = delete;
  ProgramOutputLog& operator=(const ProgramOutputLog&) = delete;
  ~ProgramOutputLog() = default;  // the throttle reports what it counted

  // `text` from a ProgramOutput message: lines, each ending in '\n'.
  void ProgramText(pid_t pid, const std::string& text);
  // Lines the child itself wrote to its stderr.
  void ChildLines(const std::vector<std::string>& lines);

 private:
  // False when the line was dropped.
  bool LogLine(const std::string& label, const std::string& line);
  void CountDropped(uint64_t lines);

  std::string service_;
  double tokens_ = kOutputLinesPerSecond;  // lines that may be logged now
  double refilled_ = 0;                    // MonotonicSeconds() of the last refill
  LogThrottle dropped_;
};

}  // namespace gatehouse
