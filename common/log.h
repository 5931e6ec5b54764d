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

  bool operator==(const LogTarget& other) const {
    return log_file == other.log_file && log_level == other.log_level &&
           syslog_ident == other.syslog_ident && syslog_facility == other.syslog_facility &&
           syslog_logopt == other.syslog_logopt;
  }
};

// Sets where log lines go; called again (SIGHUP), it reopens the log file. The
// file is opened O_APPEND and close-on-exec and held here alone: no other
// process gets it (programs' stderr reaches it through the supervisor). A log
// file that was deleted or renamed is reopened at the next line (checked at
// most once a second). False with a message on failure; the old target stays.
bool OpenLog(const LogTarget& target, std::string* error);

// The log file's descriptor; -1 when the log is stderr or syslog. Only a
// gatehouse that replaces this one (SIGUSR2) gets it, as its stderr until it
// has opened the log itself, so that its early errors are not lost.
int LogFileDescriptor();

bool LogEnabled(int level);
// One line per call; control characters in `message` are shown as '?'.
void Log(int level, const std::string& message);

}  // namespace gatehouse
