// ProgramOutputLog: where one service child's programs' stderr (ProgramOutput
// messages) and the child's own stderr meet the log. Every line is logged at
// notice as "SERVICE[PID]: text" or "SERVICE child: text", bounded to
// kMaxOutputLine bytes and sanitised by Log(); at most kOutputLinesPerSecond
// per service child (a burst of as many); the rest are dropped and counted in a
// throttled warning ("SERVICE: program output dropped (over 100 lines/s)", then
// one line per 10 s with how many more). A client can start programs at will
// (a connect-and-reset loop fails one per connection), so the programs of one
// client have a budget: kProgramsPerSourceBurst of them at once, refilled at
// kProgramsPerSourceRate a second, are logged in full; the lines of the rest go
// through the throttle per client ("(N more like this in 10 s)"). The limits
// are kept here, not in the child, because the child is not trusted to keep them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/event_loop.h"
#include "common/log_throttle.h"
#include "supervisor/source_budget.h"

namespace gatehouse {

inline constexpr double kOutputLinesPerSecond = 100;
inline constexpr int kProgramsPerSourceBurst = 32;
inline constexpr int kProgramsPerSourceRate = 4;

class ProgramOutputLog {
 public:
  ProgramOutputLog(event_base* base, std::string service);
  ProgramOutputLog(const ProgramOutputLog&) = delete;
  ProgramOutputLog& operator=(const ProgramOutputLog&) = delete;
  ~ProgramOutputLog() = default;  // the throttle reports what it counted

  // `text` from a ProgramOutput message: lines, each ending in '\n'. `source`:
  // the client its program serves (SourceOf), empty for none (mode = wait).
  void ProgramText(pid_t pid, const std::string& text, const std::string& source);
  // `text` a process of the service sent to its /dev/log (ProgramSyslog): under
  // the service's line rate only, since the sender may be any process of the
  // service (tftpd's per-request children), not a program with a client; the
  // child bounds the messages it forwards already.
  void SyslogText(pid_t pid, const std::string& text);
  // Program `pid` (as ProgramText named it) has ended.
  void ProgramEnded(pid_t pid) { in_full_.erase(pid); }
  // Lines the child itself wrote to its stderr.
  void ChildLines(const std::vector<std::string>& lines);

 private:
  // False when the line was dropped.
  bool LogLine(const std::string& label, const std::string& line);
  void CountDropped(uint64_t lines);

  std::string service_;
  double tokens_ = kOutputLinesPerSecond;  // lines that may be logged now
  double refilled_ = 0;                    // MonotonicSeconds() of the last refill
  SourceBudget per_source_{kProgramsPerSourceBurst, kProgramsPerSourceRate};
  std::unordered_map<pid_t, bool> in_full_;  // running programs: within their client's budget?
  LogThrottle dropped_;  // "dropped" (over the rate), "output SOURCE" (over its budget)
};

}  // namespace gatehouse
