#include "supervisor/generation_link.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <sstream>
#include <vector>

#include "common/fd_passing.h"
#include "common/parse_number.h"
#include "common/sys_error.h"

namespace gatehouse {
namespace {

// A table of 2,048 services with 64-byte names fits, and one packet of it fits a
// UNIX socket's default send buffer (208 KiB); nothing legitimate is larger.
constexpr size_t kMaxPacket = 192 * 1024;
constexpr size_t kMaxServices = 2048;
constexpr size_t kMaxNameBytes = 64;         // a service name's bound in the config
constexpr uint64_t kMaxPrograms = 1 << 24;   // far above any max_servers
constexpr uint64_t kMaxStopSeconds = 86400;  // shutdown_timeout's bound
constexpr uint64_t kMaxPid = 1 << 22;        // PID_MAX_LIMIT
// A slow peer's queue: a few packets at most are ever in flight.
constexpr size_t kMaxQueued = 64;

// A name is only looked up in our own table, never logged: printable, no blanks.
bool PlausibleName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (char c : name) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

bool ParseTable(const std::string& packet, std::map<std::string, size_t>* programs,
                std::string* error) {
  std::istringstream lines(packet);
  std::string line;
  std::getline(lines, line);  // "programs"
  while (std::getline(lines, line)) {
    size_t space = line.find(' ');
    uint64_t count = 0;
    if (space == std::string::npos || !PlausibleName(line.substr(0, space)) ||
        !ParseDecimal(line.substr(space + 1), kMaxPrograms, &count)) {
      *error = "malformed programs entry";
      return false;
    }
    if (programs->size() == kMaxServices ||
        !programs->emplace(line.substr(0, space), count).second) {
      *error = "too many or repeated programs entries";
      return false;
    }
  }
  return true;
}

}  // namespace

bool ParseGenerationMessage(const std::string& packet, size_t fds, Generation from,
                            GenerationMessage* message, std::string* error) {
  *message = GenerationMessage{};
  size_t space = packet.find(' ');
  std::string word = packet.substr(0, std::min(space, packet.find('\n')));
  std::string argument = space == std::string::npos ? "" : packet.substr(space + 1);
  uint64_t number = 0;
  bool fds_right = fds == 0;
  if (from == Generation::kOlder && (packet == "programs" || packet.rfind("programs\n", 0) == 0)) {
    message->kind = GenerationMessage::Kind::kPrograms;
    if (fds_right && ParseTable(packet, &message->programs, error)) return true;
  } else if (from == Generation::kLater && packet == "ready") {
    message->kind = GenerationMessage::Kind::kReady;
    if (fds_right) return true;
  } else if (from == Generation::kLater && word == "stop") {
    message->kind = GenerationMessage::Kind::kStop;
    if (!ParseDecimal(argument, kMaxStopSeconds, &number)) {
      *error = "malformed stop";
      return false;
    }
    message->seconds = static_cast<uint32_t>(number);
    if (fds_right) return true;
  } else if (from == Generation::kLater && word == "successor") {
    message->kind = GenerationMessage::Kind::kSuccessor;
    if (!ParseDecimal(argument, kMaxPid, &number) || number < 2) {
      *error = "malformed successor";
      return false;
    }
    message->pid = static_cast<pid_t>(number);
    fds_right = fds == 1;
    if (fds_right) return true;
  } else {
    *error = "unexpected packet from the " +
             std::string(from == Generation::kOlder ? "older" : "later") + " generation";
    return false;
  }
  if (error->empty()) *error = "wrong number of fds";
  return false;
}

std::string ReadyPacket() { return "ready"; }
std::string StopPacket(uint32_t seconds) { return "stop " + std::to_string(seconds); }
std::string SuccessorPacket(pid_t pid) { return "successor " + std::to_string(pid); }

std::string ProgramsPacket(const std::map<std::string, size_t>& programs) {
  // Within the bounds the peer checks, or it would close the link (which also
  // carries the stop): beyond them a count is left out rather than the link lost.
  std::string packet = "programs";
  size_t entries = 0;
  for (const auto& [name, count] : programs) {
    if (++entries > kMaxServices) break;
    packet += "\n" + name + " " + std::to_string(std::min<size_t>(count, kMaxPrograms));
  }
  return packet;
}

bool IsGenerationLinkSocket(int fd) {
  int type = 0, domain = 0;
  socklen_t length = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) return false;
  length = sizeof domain;
  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 && domain == AF_UNIX &&
         type == SOCK_SEQPACKET;
}

GenerationLink::GenerationLink(event_base* base, UniqueFd socket, pid_t peer, Generation side,
                               MessageHandler on_message, ClosedHandler on_closed)
    : socket_(std::move(socket)),
      peer_(peer),
      side_(side),
      on_message_(std::move(on_message)),
      on_closed_(std::move(on_closed)),
      read_event_(event_new(base, socket_.get(), EV_READ | EV_PERSIST, OnReadable, this)),
      write_event_(event_new(base, socket_.get(), EV_WRITE, OnWritable, this)) {
  event_add(read_event_.get(), nullptr);
}

void GenerationLink::Send(std::string packet, UniqueFd fd) {
  if (!open_) return;
  bool table = packet.rfind("programs", 0) == 0;
  if (table && !queue_.empty() && queue_.back().packet.rfind("programs", 0) == 0) {
    queue_.back().packet = std::move(packet);
    return;
  }
  if (queue_.size() >= kMaxQueued) {
    Close("the peer takes no packets");
    return;
  }
  queue_.push_back(Outgoing{std::move(packet), std::move(fd)});
  Flush();
}

void GenerationLink::Flush() {
  while (open_ && !queue_.empty()) {
    Outgoing& next = queue_.front();
    int fd = next.fd.get();
    int err = SendPacket(socket_.get(), next.packet, fd >= 0 ? &fd : nullptr, fd >= 0 ? 1 : 0);
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == ETOOMANYREFS) {
      event_add(write_event_.get(), nullptr);
      return;
    }
    if (err != 0) {
      // The peer has gone (its end closes when it exits): as when we read its EOF.
      Close(err == EPIPE || err == ECONNRESET ? "" : ErrnoMessage("send", "", err));
      return;
    }
    queue_.pop_front();
  }
  if (open_ && closing_) Close("");
}

void GenerationLink::CloseWhenSent() {
  closing_ = true;
  Flush();
}

void GenerationLink::OnWritable(evutil_socket_t, short, void* self) {
  static_cast<GenerationLink*>(self)->Flush();
}

void GenerationLink::OnReadable(evutil_socket_t, short, void* self) {
  static_cast<GenerationLink*>(self)->ReadAvailable();
}

void GenerationLink::ReadAvailable() {
  static std::vector<char> buffer(kMaxPacket);  // copied out before any handler runs
  // A few packets per wake-up: the loop's other work gets its turn.
  for (int i = 0; i < 16 && open_; ++i) {
    std::vector<UniqueFd> fds;
    bool fds_lost = false;
    ssize_t n = ReceivePacket(socket_.get(), buffer.data(), buffer.size(), &fds, &fds_lost);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n == 0) {
      Close("");
      return;
    }
    GenerationMessage message;
    std::string error;
    if (n < 0 || fds_lost ||
        !ParseGenerationMessage(std::string(buffer.data(), static_cast<size_t>(n)), fds.size(),
                                side_, &message, &error)) {
      Close(n < 0 ? ErrnoMessage("recvmsg", "", errno)
                  : (fds_lost ? "an fd it sent was lost" : error));
      return;
    }
    if (message.kind == GenerationMessage::Kind::kPrograms) programs_ = message.programs;
    on_message_(*this, message, fds.empty() ? UniqueFd() : std::move(fds.front()));
  }
}

void GenerationLink::Close(const std::string& reason) {
  if (!open_) return;
  open_ = false;
  event_del(read_event_.get());
  event_del(write_event_.get());
  queue_.clear();
  programs_.clear();
  socket_.reset();
  on_closed_(*this, reason);
}

}  // namespace gatehouse
