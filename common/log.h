// Logging as Net::Server does it: log_level 0-4 (err, warning, notice, info,
// debug) to stderr, a log_file, or syslog (log_file = Sys::Syslog).
#pragma once

#include <string>

namespace gatehouse {

enum LogLevel { kLogErr = 0, kLogWarning = 1, kLogNotice = 2, kLogInfo = 3, kLogDebug = 4 };

struct LogTarget {
  std::string log_file;  // empty: stderr; "Sys::Syslog"; or a path (appended to)
  int log_level = kLogNotice;
  std::string syslog_ident = "gatehouse";
  std::string syslog_facility = "daemon";
  std::string syslog_logopt = "pid";
};

// Sets where log lines go. A log file is opened O_APPEND and becomes stderr too,
// so programs' stderr lands in the same file. False with a message on failure.
bool OpenLog(const LogTarget& target, std::string* error);

bool LogEnabled(int level);
// One line per call; control characters in `message` are shown as '?'.
void Log(int level, const std::string& message);

}  // namespace gatehouse
