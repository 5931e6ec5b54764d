// The service's own /dev/log (dev_log = yes): programs that log to syslog
// (in.tftpd, vsftpd, telnetd) cannot reach the host's syslog from a chroot, and
// their lines belong in gatehouse's log beside their stderr anyway. In the
// service's mount namespace, the serving child binds a SOCK_DGRAM socket over /dev/log (or
// CHROOT/dev/log when the chroot has /dev) and reads it on its loop; each
// message, its syslog header stripped, goes to the supervisor as a
// ProgramSyslog with the sender's pidfd, and is logged as "SERVICE[PID]: text".
// Bounded here (line length, messages per second; the rest is read and
// dropped, so no program ever blocks on its syslog) and again by the
// supervisor's per-service output limit.
#pragma once

#include <cstdint>
#include <string>

#include "common/event_loop.h"
#include "common/log_throttle.h"
#include "common/message_channel.h"
#include "common/unique_fd.h"

namespace gatehouse {

// Longest message text logged (bytes after the header); the rest is cut off.
inline constexpr size_t kMaxDevLogLine = 1024;
// Messages forwarded per second (a burst of as many); the rest are dropped and
// counted in a throttled line on the child's stderr.
inline constexpr double kDevLogMessagesPerSecond = 200;

// In the serving child, in the service's mount namespace, before the chroot and
// the privilege drop: the socket,
// bind-mounted over CHROOT/dev/log (chroot empty: the host's /dev/log, or where
// its symlink leads) in this mount namespace only; a chroot's /dev without a
// log gets an empty file as the mount point. Empty with `*skipped` saying why
// when there is no place for it (a chroot without /dev, a symlink there, a host
// without /dev/log); empty with `*error` when the kernel refused.
UniqueFd BindDevLog(const std::string& chroot, std::string* skipped, std::string* error);

// The text of one syslog message as the log shows it: the "<PRI>" and the
// timestamp (RFC 3164 "Mmm dd hh:mm:ss ", or RFC 5424's version, timestamp and
// host, whose app and procid become "APP[PROCID]: ") are removed, a trailing
// newline too, and it is cut to kMaxDevLogLine bytes. Pure, for the unit tests.
std::string SyslogMessageText(const std::string& datagram);

class DevLogReader {
 public:
  DevLogReader(event_base* base, UniqueFd socket, MessageChannel* channel);
  DevLogReader(const DevLogReader&) = delete;
  DevLogReader& operator=(const DevLogReader&) = delete;

 private:
  void ReadAvailable();
  void Forward(pid_t sender, const std::string& text);
  static void OnReadable(evutil_socket_t, short, void* self);

  UniqueFd socket_;
  MessageChannel* channel_;
  EventPtr read_event_;
  double tokens_ = kDevLogMessagesPerSecond;
  double refilled_ = 0;
  LogThrottle dropped_;
};

}  // namespace gatehouse
