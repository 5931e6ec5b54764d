#include "common/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>

#include "common/config/trusted_path.h"
#include "common/control_bytes.h"
#include "common/monotonic_clock.h"
#include "common/sys_error.h"
#include "common/unique_fd.h"

namespace gatehouse {
namespace {

// How often a log file is checked for having been deleted or renamed.
constexpr double kLogFileCheckSeconds = 1;

LogTarget current;
bool use_syslog = false;
UniqueFd log_fd;         // the log file; none when logging to stderr or syslog
double log_checked = 0;  // MonotonicSeconds() of the last check

std::string reopen_refused;  // why the last reopen after a move failed, said once

// Appending as root: the folder may be changed by root alone (a sticky one
// holds only our own file) and a symlink is never followed, so nobody can point
// the log at another file (common/config/trusted_path.h). Checked at every open.
bool OpenLogFile(const std::string& path, std::string* error) {
  UniqueFd fd = OpenTrustedFileForWriting(path, "log_file", O_WRONLY | O_APPEND, 0640, error);
  if (!fd) return false;
  log_fd = std::move(fd);
  log_checked = MonotonicSeconds();
  reopen_refused.clear();
  return true;
}

// logrotate without copytruncate, or an admin's rm: the path no longer names
// the file we write to, so make a new one there.
void ReopenIfMoved() {
  double now = MonotonicSeconds();
  if (!log_fd || now - log_checked < kLogFileCheckSeconds) return;
  log_checked = now;
  struct stat open_file {
  }, named{};
  if (fstat(log_fd.get(), &open_file) != 0) return;
  bool moved = open_file.st_nlink == 0 || lstat(current.log_file.c_str(), &named) != 0 ||
               named.st_dev != open_file.st_dev || named.st_ino != open_file.st_ino;
  std::string error;
  if (moved && !OpenLogFile(current.log_file, &error) && error != reopen_refused) {
    reopen_refused = error;  // the old file it is; said once, in it
    Log(kLogErr, "reopen refused: " + error + "; still writing to the file it was");
  }
}

const char* LevelName(int level) {
  static const char* names[] = {"err", "warning", "notice", "info", "debug"};
  return level >= 0 && level <= 4 ? names[level] : "debug";
}

int SyslogPriority(int level) {
  static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
  return level >= 0 && level <= 4 ? priorities[level] : LOG_DEBUG;
}

int SyslogFacility(const std::string& name) {
  static const std::map<std::string, int> facilities = {
      {"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV}, {"cron", LOG_CRON},
      {"daemon", LOG_DAEMON}, {"ftp", LOG_FTP},           {"kern", LOG_KERN},
      {"lpr", LOG_LPR},       {"mail", LOG_MAIL},         {"news", LOG_NEWS},
      {"syslog", LOG_SYSLOG}, {"user", LOG_USER},         {"uucp", LOG_UUCP},
      {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},     {"local2", LOG_LOCAL2},
      {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},     {"local5", LOG_LOCAL5},
      {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
  auto found = facilities.find(name);
  return found == facilities.end() ? LOG_DAEMON : found->second;
}

int SyslogOptions(const std::string& text) {
  int options = 0;
  if (text.find("pid") != std::string::npos) options |= LOG_PID;
  if (text.find("cons") != std::string::npos) options |= LOG_CONS;
  if (text.find("ndelay") != std::string::npos) options |= LOG_NDELAY;
  if (text.find("nowait") != std::string::npos) options |= LOG_NOWAIT;
  return options;
}

}  // namespace

bool OpenLog(const LogTarget& target, std::string* error) {
  bool to_file = !target.log_file.empty() && target.log_file != "Sys::Syslog";
  if (to_file && !OpenLogFile(target.log_file, error)) return false;
  if (!to_file) log_fd.reset();
  current = target;
  use_syslog = target.log_file == "Sys::Syslog";
  if (use_syslog) {
    // openlog keeps a pointer to the ident: current lives for the whole run.
    openlog(current.syslog_ident.c_str(), SyslogOptions(current.syslog_logopt),
            SyslogFacility(current.syslog_facility));
  }
  return true;
}

int LogFileDescriptor() { return log_fd.get(); }

bool LogEnabled(int level) { return level <= current.log_level; }

void Log(int level, const std::string& raw_message) {
  if (!LogEnabled(level)) return;
  // Text from children, peers and host names must not forge log lines.
  std::string message = raw_message;
  // A tab is harmless in a line (git's advice starts with one): a space.
  for (char& c : message) {
    if (c == '\t') {
      c = ' ';
    } else if (IsControlByte(c)) {
      c = '?';
    }
  }
  if (use_syslog) {
    syslog(SyslogPriority(level), "%s", message.c_str());
    return;
  }
  timeval now{};
  gettimeofday(&now, nullptr);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char stamp[40];
  size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", static_cast<long>(now.tv_usec / 1000));
  std::string line = std::string(stamp) + " gatehouse[" + std::to_string(getpid()) + "] " +
                     LevelName(level) + ": " + message + "\n";
  ReopenIfMoved();
  // One write() per line keeps lines whole when several processes share the file.
  ssize_t ignored = write(log_fd ? log_fd.get() : STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace gatehouse
