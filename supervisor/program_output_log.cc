#include "supervisor/program_output_log.h"

#include <algorithm>

#include "common/log.h"
#include "common/monotonic_clock.h"
#include "common/output_pipe.h"

namespace gatehouse {

ProgramOutputLog::ProgramOutputLog(event_base* base, std::string service)
    : service_(std::move(service)), refilled_(MonotonicSeconds()), dropped_(base) {}

void ProgramOutputLog::ProgramText(pid_t pid, const std::string& text, const std::string& source) {
  // The child split the lines already; split again, so that a child that breaks
  // the bound cannot write longer lines.
  LineSplitter splitter;
  std::vector<std::string> lines;
  splitter.Feed(text.data(), text.size(), &lines);
  splitter.Finish(&lines);
  // 0: a program in a namespace that ended before its pid could be read.
  std::string label = service_ + "[" + (pid > 0 ? std::to_string(pid) : "?") + "]: ";
  // Decided at a program's first output, for all of it.
  auto decided = in_full_.find(pid);
  if (decided == in_full_.end()) {
    decided =
        in_full_.emplace(pid, source.empty() || per_source_.Take(source, MonotonicSeconds())).first;
  }
  uint64_t dropped = 0;
  for (const std::string& line : lines) {
    if (decided->second) {
      dropped += LogLine(label, line) ? 0 : 1;
    } else {
      dropped_.Note("output " + source, kLogNotice, label + line);
    }
  }
  CountDropped(dropped);
}

void ProgramOutputLog::SyslogText(pid_t pid, const std::string& text) {
  LineSplitter splitter;
  std::vector<std::string> lines;
  splitter.Feed(text.data(), text.size(), &lines);
  splitter.Finish(&lines);
  std::string label = service_ + "[" + (pid > 0 ? std::to_string(pid) : "?") + "]: ";
  uint64_t dropped = 0;
  for (const std::string& line : lines) dropped += LogLine(label, line) ? 0 : 1;
  CountDropped(dropped);
}

void ProgramOutputLog::ChildLines(const std::vector<std::string>& lines) {
  uint64_t dropped = 0;
  for (const std::string& line : lines) dropped += LogLine(service_ + " child: ", line) ? 0 : 1;
  CountDropped(dropped);
}

bool ProgramOutputLog::LogLine(const std::string& label, const std::string& line) {
  if (!LogEnabled(kLogNotice)) return true;
  // A token bucket: kOutputLinesPerSecond, holding at most a second's worth.
  double now = MonotonicSeconds();
  tokens_ = std::min(kOutputLinesPerSecond, tokens_ + (now - refilled_) * kOutputLinesPerSecond);
  refilled_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  Log(kLogNotice, label + line);
  return true;
}

void ProgramOutputLog::CountDropped(uint64_t lines) {
  dropped_.Note("dropped", kLogWarning,
                service_ + ": program output dropped (over " +
                    std::to_string(static_cast<int>(kOutputLinesPerSecond)) + " lines/s)",
                lines);
}

}  // namespace gatehouse
