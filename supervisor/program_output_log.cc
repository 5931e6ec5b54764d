#include "supervisor/program_output_log.h"

#include <algorithm>

#include "common/log.h"
#include "common/monotonic_clock.h"
#include "common/output_pipe.h"

namespace gatehouse {
namespace {
constexpr double kReportSeconds = 1;
}  // namespace

ProgramOutputLog::ProgramOutputLog(event_base* base, std::string service)
    : service_(std::move(service)), refilled_(MonotonicSeconds()) {
  report_timer_.reset(evtimer_new(base, OnReportTimer, this));
}

ProgramOutputLog::~ProgramOutputLog() { ReportDropped(); }

void ProgramOutputLog::ProgramText(pid_t pid, const std::string& text) {
  // The child split the lines already; split again, so that a child that breaks
  // the bound cannot write longer lines.
  LineSplitter splitter;
  std::vector<std::string> lines;
  splitter.Feed(text.data(), text.size(), &lines);
  splitter.Finish(&lines);
  // 0: a program in a namespace that ended before its pid could be read.
  std::string label = service_ + "[" + (pid > 0 ? std::to_string(pid) : "?") + "]: ";
  for (const std::string& line : lines) LogLine(label, line);
}

void ProgramOutputLog::ChildLines(const std::vector<std::string>& lines) {
  for (const std::string& line : lines) LogLine(service_ + " child: ", line);
}

void ProgramOutputLog::LogLine(const std::string& label, const std::string& line) {
  if (!LogEnabled(kLogNotice)) return;
  // A token bucket: kOutputLinesPerSecond, holding at most a second's worth.
  double now = MonotonicSeconds();
  tokens_ = std::min(kOutputLinesPerSecond, tokens_ + (now - refilled_) * kOutputLinesPerSecond);
  refilled_ = now;
  if (tokens_ < 1) {
    if (dropped_++ == 0) {
      timeval delay = Seconds(kReportSeconds);
      event_add(report_timer_.get(), &delay);
    }
    return;
  }
  tokens_ -= 1;
  Log(kLogNotice, label + line);
}

void ProgramOutputLog::ReportDropped() {
  if (dropped_ == 0) return;
  Log(kLogWarning, service_ + ": " + std::to_string(dropped_) +
                       " lines of program output dropped (over " +
                       std::to_string(static_cast<int>(kOutputLinesPerSecond)) + " lines/s)");
  dropped_ = 0;
}

void ProgramOutputLog::OnReportTimer(evutil_socket_t, short, void* self) {
  static_cast<ProgramOutputLog*>(self)->ReportDropped();
}

}  // namespace gatehouse
