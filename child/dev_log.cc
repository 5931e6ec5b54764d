#include "child/dev_log.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/message_table.h"
#include "common/monotonic_clock.h"
#include "common/pidfd.h"
#include "common/sys_error.h"
#include "common/wire.h"

namespace gatehouse {
namespace {

// A directory that exists everywhere and that the serving process covers for a
// moment with a tmpfs to create the socket in: the socket is then bind-mounted
// over /dev/log and the tmpfs detached (the bind mount keeps the socket alive),
// which uncovers whatever /proc was below it (the keeper's private proc), in
// this mount namespace only, before any program starts.
constexpr const char* kScratchDir = "/proc";
constexpr const char* kScratchSocket = "/proc/dev-log";
// Datagrams read per wake-up, so a flood cannot hold the child's loop.
constexpr int kMaxDatagramsPerWake = 64;
// A message longer than this is cut (RFC 5424 asks receivers for 2 KiB at least).
constexpr size_t kMaxSyslogBytes = 8192;
// Messages queued towards the supervisor beyond which more are dropped (as
// ProgramStderr's backlog: short, far below the channel's bound).
constexpr size_t kMaxQueuedDevLog = 16;

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// "<PRI>": 1-3 digits between angle brackets.
size_t PriorityLength(const std::string& text) {
  if (text.empty() || text[0] != '<') return 0;
  size_t end = 1;
  while (end < text.size() && end <= 3 && IsDigit(text[end])) ++end;
  return end > 1 && end < text.size() && text[end] == '>' ? end + 1 : 0;
}

// RFC 3164's "Mmm dd hh:mm:ss " (the day space-padded), as glibc's syslog() and
// logger send it over /dev/log.
bool IsBsdTimestamp(const std::string& text, size_t at) {
  static const char kPattern[] = "AAA dd dd:dd:dd ";  // A: letter, d: digit
  if (text.size() - at < sizeof kPattern - 1) return false;
  for (size_t i = 0; i + 1 < sizeof kPattern; ++i) {
    char c = text[at + i], want = kPattern[i];
    bool ok = want == 'A'   ? std::isalpha(static_cast<unsigned char>(c)) != 0
              : want == 'd' ? IsDigit(c) || (c == ' ' && i == 4)
                            : c == want;
    if (!ok) return false;
  }
  return true;
}

// The next space-separated field of an RFC 5424 header, from `*at`.
bool NextField(const std::string& text, size_t* at, std::string* field) {
  size_t space = text.find(' ', *at);
  if (space == std::string::npos) return false;
  *field = text.substr(*at, space - *at);
  *at = space + 1;
  return !field->empty();
}

// RFC 5424 after the PRI: "1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]". Returns
// "APP[PROCID]: MSG" (the parts that say "-" left out), or false when `text`
// is not one.
bool Rfc5424Text(const std::string& text, size_t at, std::string* out) {
  if (text.compare(at, 2, "1 ") != 0) return false;
  at += 2;
  std::string timestamp, host, app, procid, msgid;
  if (!NextField(text, &at, &timestamp) || !NextField(text, &at, &host) ||
      !NextField(text, &at, &app) || !NextField(text, &at, &procid) ||
      !NextField(text, &at, &msgid)) {
    return false;
  }
  // Structured data: "-" or [..][..], with "\]" escaped inside.
  if (at < text.size() && text[at] == '-') {
    ++at;
  } else {
    while (at < text.size() && text[at] == '[') {
      for (++at; at < text.size() && text[at] != ']'; ++at) {
        if (text[at] == '\\') ++at;
      }
      if (at >= text.size()) return false;
      ++at;
    }
  }
  if (at < text.size() && text[at] == ' ') ++at;
  std::string message = text.substr(std::min(at, text.size()));
  if (message.compare(0, 3, "\xEF\xBB\xBF") == 0) message.erase(0, 3);  // the BOM
  std::string tag = app == "-" ? "" : app;
  if (!tag.empty() && procid != "-") tag += "[" + procid + "]";
  *out = tag.empty() ? message : tag + ": " + message;
  return true;
}

}  // namespace

std::string SyslogMessageText(const std::string& datagram) {
  std::string text = datagram;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0' || text.back() == '\r')) {
    text.pop_back();
  }
  size_t at = PriorityLength(text);
  std::string out;
  if (at > 0 && Rfc5424Text(text, at, &out)) {
    text = std::move(out);
  } else {
    if (IsBsdTimestamp(text, at)) at += 16;
    text.erase(0, at);
  }
  // One message is one log line.
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (text.size() > kMaxDevLogLine) text.resize(kMaxDevLogLine);
  return text;
}

UniqueFd BindDevLog(const std::string& chroot, std::string* skipped, std::string* error) {
  std::string dev = chroot.empty() ? "/dev" : chroot + "/dev";
  std::string target = dev + "/log";
  struct stat info {};
  if (stat(dev.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    *skipped = "no " + dev + " directory";
    return UniqueFd();
  }
  // The host's /dev/log is often a symlink (to journald's socket): covered where it
  // leads, in this namespace only. A chroot's must not lead out of it.
  if (!chroot.empty() && lstat(target.c_str(), &info) == 0 && S_ISLNK(info.st_mode)) {
    *skipped = target + " is a symlink";
    return UniqueFd();
  }
  if (stat(target.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) {
      *skipped = target + " is a directory";
      return UniqueFd();
    }
  } else if (chroot.empty()) {
    // Creating one would change the host's /dev for everyone.
    *skipped = "the host has no /dev/log to cover (a syslog daemon's, or an empty file)";
    return UniqueFd();
  } else {
    // The jail's own /dev: an empty file as the mount point. It stays (outside this
    // namespace it is not a socket, so a connect is refused as before).
    UniqueFd point(open(target.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!point) {
      *error = ErrnoMessage("create", target, errno);
      return UniqueFd();
    }
  }
  UniqueFd socket_fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket_fd) {
    *error = ErrnoMessage("socket", "for " + target, errno);
    return UniqueFd();
  }
  int on = 1;
  setsockopt(socket_fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  if (mount("tmpfs", kScratchDir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k") != 0) {
    *error = ErrnoMessage("mount", std::string("tmpfs on ") + kScratchDir, errno);
    return UniqueFd();
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, kScratchSocket, sizeof address.sun_path - 1);
  const char* step = "bind";
  bool bound = bind(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  // Programs run as other users; the socket is the only thing they may do here.
  if (bound && (step = "chmod", chmod(kScratchSocket, 0666) != 0)) bound = false;
  if (bound &&
      (step = "mount", mount(kScratchSocket, target.c_str(), nullptr, MS_BIND, nullptr) != 0)) {
    bound = false;
  }
  int err = errno;
  umount2(kScratchDir, MNT_DETACH);
  if (!bound) {
    *error = ErrnoMessage(step, "syslog socket on " + target, err);
    return UniqueFd();
  }
  return socket_fd;
}

DevLogReader::DevLogReader(event_base* base, UniqueFd socket, MessageChannel* channel)
    : socket_(std::move(socket)),
      channel_(channel),
      refilled_(MonotonicSeconds()),
      dropped_(base, [](int, const std::string& line) {
        fprintf(stderr, "%s\n", line.c_str());
        fflush(stderr);
      }) {
  read_event_.reset(event_new(base, socket_.get(), EV_READ | EV_PERSIST, OnReadable, this));
  event_add(read_event_.get(), nullptr);
}

void DevLogReader::OnReadable(evutil_socket_t, short, void* self) {
  static_cast<DevLogReader*>(self)->ReadAvailable();
}

void DevLogReader::ReadAvailable() {
  static char buffer[kMaxSyslogBytes];
  for (int count = 0; count < kMaxDatagramsPerWake; ++count) {
    iovec part{buffer, sizeof buffer};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    msghdr message{};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t length = recvmsg(socket_.get(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (length < 0) return;  // EAGAIN: all read
    pid_t sender = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred credentials{};
        std::memcpy(&credentials, CMSG_DATA(c), sizeof credentials);
        sender = credentials.pid;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        // fds a program sent along (what did not fit was closed by the kernel)
        size_t fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < fds; ++i) {
          int fd = -1;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          UniqueFd unwanted(fd);
        }
      }
    }
    // 0: a sender the kernel could not name to us; 1: the host's init.
    if (sender <= 1) continue;
    // A token bucket: kDevLogMessagesPerSecond, holding at most a second's worth.
    double now = MonotonicSeconds();
    tokens_ =
        std::min(kDevLogMessagesPerSecond, tokens_ + (now - refilled_) * kDevLogMessagesPerSecond);
    refilled_ = now;
    // Behind a slow supervisor the messages are dropped, not queued: a program
    // never waits for its syslog.
    if (tokens_ < 1 || channel_->queued() >= kMaxQueuedDevLog) {
      dropped_.Note("dropped", 0,
                    "dev_log: messages dropped (over " +
                        std::to_string(static_cast<int>(kDevLogMessagesPerSecond)) +
                        " a second, or the log behind)");
      continue;
    }
    tokens_ -= 1;
    Forward(sender, SyslogMessageText(std::string(buffer, static_cast<size_t>(length))));
  }
}

void DevLogReader::Forward(pid_t sender, const std::string& text) {
  std::string line = text + "\n";
  for (char& c : line) {
    if (c == '\0') c = '?';  // the wire refuses NUL in strings
  }
  // The pid is this namespace's; the pidfd (none once the sender is reaped) tells
  // the supervisor which process it is.
  channel_->Send(MessageType::kProgramSyslog, EncodePayload(ProgramOutput{sender, line}),
                 OpenPidfd(sender));
}

}  // namespace gatehouse
