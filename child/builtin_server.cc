#include "child/builtin_server.h"

#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "child/builtin_reply.h"
#include "common/monotonic_clock.h"

namespace gatehouse {
namespace {

// Chargen refills per writable event: a fast reader on loopback could otherwise
// keep the loop in one connection while the others wait.
constexpr int kMaxRefillsPerEvent = 4;
// Reads per readable event, for the same reason.
constexpr int kMaxReadsPerEvent = 4;
// SO_SNDBUF of chargen and echo connections (the kernel doubles it).
constexpr int kSendBufferBytes = 64 * 1024;

}  // namespace

// One connection: its socket, its events and its output buffer. Each step
// returns false once the connection is over; the server then ends it.
class BuiltinServer::Connection {
 public:
  Connection(BuiltinServer* server, uint64_t id, UniqueFd fd)
      : server_(server), id_(id), fd_(std::move(fd)), started_(MonotonicSeconds()) {
    last_progress_ = started_;
    event_base* base = server_->base_;
    read_event_.reset(event_new(base, fd_.get(), EV_READ | EV_PERSIST, OnReadable, this));
    write_event_.reset(event_new(base, fd_.get(), EV_WRITE | EV_PERSIST, OnWritable, this));
    if (server_->idle_timeout_ > 0) idle_timer_.reset(evtimer_new(base, OnIdleTimer, this));
  }

  uint64_t id() const { return id_; }
  double started() const { return started_; }

  // A client that never reads would otherwise have the kernel's send buffer
  // grow to tcp_wmem's maximum (4 MiB) with chargen lines or its own echo: a
  // few thousand such clients pin gigabytes of kernel memory, and filling them
  // keeps this loop from serving anyone else. Not smaller: under one loopback
  // segment (64 KiB) a reading client gets 3 MB/s, not 280.
  void LimitSendBuffer() {
    int bytes = kSendBufferBytes;
    setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  }

  // False when it is over already. `reply`: what daytime and time still have to send.
  bool Start(const std::string& reply) {
    if (idle_timer_) ArmIdleTimer(server_->idle_timeout_);
    switch (server_->builtin_) {
      case BuiltinService::kEcho:
        LimitSendBuffer();
        [[fallthrough]];
      case BuiltinService::kDiscard:
        // The request has usually arrived with the connection: read it now,
        // and watch the socket only if more is to come.
        return Readable();
      case BuiltinService::kChargen: {
        LimitSendBuffer();
        Watch(read_event_, true);  // what the client sends is dropped
        return Flush();
      }
      case BuiltinService::kDaytime:
      case BuiltinService::kTime:
        Append(reply);
        return Flush();
      default:
        return false;
    }
  }

 private:
  static void OnReadable(evutil_socket_t, short, void* self) {
    auto* connection = static_cast<Connection*>(self);
    if (!connection->Readable()) connection->server_->End(connection->id_);
  }
  static void OnWritable(evutil_socket_t, short, void* self) {
    auto* connection = static_cast<Connection*>(self);
    if (!connection->Flush()) connection->server_->End(connection->id_);
  }
  static void OnIdleTimer(evutil_socket_t, short, void* self) {
    auto* connection = static_cast<Connection*>(self);
    uint32_t timeout = connection->server_->idle_timeout_;
    double idle = MonotonicSeconds() - connection->last_progress_;
    if (idle < timeout) {
      connection->ArmIdleTimer(timeout - idle);
      return;
    }
    fprintf(stderr, "gatehouse-child[%s]: connection %llu idle past its timeout of %u s; closed\n",
            connection->server_->service_name_.c_str(),
            static_cast<unsigned long long>(connection->id_), timeout);
    connection->server_->End(connection->id_);
  }

  void ArmIdleTimer(double seconds) {
    timeval delay = Seconds(seconds);
    event_add(idle_timer_.get(), &delay);
  }

  void Append(const std::string& bytes) {
    Compact();
    size_t n = std::min(bytes.size(), sizeof buffer_ - end_);
    memcpy(buffer_ + end_, bytes.data(), n);
    end_ += n;
  }
  // Moves what is still to be sent to the front, so the free space is in one piece.
  void Compact() {
    if (start_ == 0) return;
    memmove(buffer_, buffer_ + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  // Whole chargen lines into the free space.
  void RefillChargen() {
    Compact();
    while (sizeof buffer_ - end_ >= kChargenLineWidth + 2) {
      std::string line = ChargenLine(next_line_++);
      memcpy(buffer_ + end_, line.data(), line.size());
      end_ += line.size();
    }
  }

  // Starts or stops watching for `event`; a connection that has to wait for its
  // client may live long, so from then on the kernel's keepalive watches for a
  // peer that vanished without a FIN (UNIX sockets refuse the option; no matter).
  void Watch(EventPtr& event, bool on) {
    bool& watching = &event == &read_event_ ? watching_read_ : watching_write_;
    if (watching == on) return;
    watching = on;
    if (on && !keepalive_) {
      keepalive_ = true;
      int yes = 1;
      setsockopt(fd_.get(), SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof yes);
    }
    if (on) {
      event_add(event.get(), nullptr);
    } else {
      event_del(event.get());
    }
  }

  // Reads what the client sent (echo: into the buffer, then sends it back; the
  // others drop it), a few times over, until the socket has no more.
  bool Readable() {
    bool echo = server_->builtin_ == BuiltinService::kEcho;
    for (int reads = 0; reads < kMaxReadsPerEvent; ++reads) {
      if (echo) Compact();
      if (echo && end_ == sizeof buffer_) {  // full: the client must read first
        paused_full_ = true;
        Watch(read_event_, false);
        return true;
      }
      char dropped[4096];
      ssize_t n = echo ? recv(fd_.get(), buffer_ + end_, sizeof buffer_ - end_, MSG_DONTWAIT)
                       : recv(fd_.get(), dropped, sizeof dropped, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return false;
        Watch(read_event_, true);
        return true;
      }
      if (n == 0) {
        input_done_ = true;
        Watch(read_event_, false);
        // Echo is over once the rest is sent; discard now; chargen goes on for a
        // client that only half-closed.
        if (echo) return end_ > start_;
        return server_->builtin_ == BuiltinService::kChargen;
      }
      last_progress_ = MonotonicSeconds();
      if (echo) {
        end_ += static_cast<size_t>(n);
        if (!Flush()) return false;
      }
    }
    Watch(read_event_, true);  // more may come: the other connections first
    return true;
  }

  // Sends what the buffer holds; waits for the socket when it is full. Decides
  // what to watch next: echo reads only while there is room, so a client that
  // does not read stops being read.
  bool Flush() {
    BuiltinService builtin = server_->builtin_;
    for (int refills = 0;;) {
      if (builtin == BuiltinService::kChargen && end_ == start_) {
        if (refills++ == kMaxRefillsPerEvent) break;  // more when the loop comes back
        RefillChargen();
      }
      if (end_ == start_) break;
      ssize_t n = send(fd_.get(), buffer_ + start_, end_ - start_, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return false;  // the client is gone
        break;
      }
      start_ += static_cast<size_t>(n);
      last_progress_ = MonotonicSeconds();
      if (start_ == end_) start_ = end_ = 0;
    }
    bool pending = end_ > start_ || builtin == BuiltinService::kChargen;
    Watch(write_event_, pending);
    switch (builtin) {
      case BuiltinService::kEcho:
        if (input_done_) return pending;
        // Room again after a full buffer: read on (Readable stopped watching).
        if (paused_full_ && end_ - start_ < sizeof buffer_) {
          paused_full_ = false;
          Watch(read_event_, true);
        }
        return true;
      case BuiltinService::kDaytime:
      case BuiltinService::kTime:
        return pending;  // closed once the reply is out
      default:
        return true;
    }
  }

  BuiltinServer* server_;
  uint64_t id_;
  UniqueFd fd_;
  double started_;
  double last_progress_;
  EventPtr read_event_;
  EventPtr write_event_;
  EventPtr idle_timer_;
  char buffer_[kBuiltinBufferBytes];
  size_t start_ = 0;  // buffer_[start_, end_) is still to be sent
  size_t end_ = 0;
  uint64_t next_line_ = 0;       // chargen
  bool input_done_ = false;      // the client closed its side
  bool watching_read_ = false;   // read_event_ is added
  bool watching_write_ = false;  // write_event_ is added
  bool keepalive_ = false;       // SO_KEEPALIVE is set
  bool paused_full_ = false;     // echo: not reading while the buffer is full
};

BuiltinServer::BuiltinServer(event_base* base, BuiltinService builtin, uint32_t idle_timeout,
                             std::string service_name, OnEnd on_end)
    : base_(base),
      builtin_(builtin),
      idle_timeout_(idle_timeout),
      service_name_(std::move(service_name)),
      on_end_(std::move(on_end)) {}

BuiltinServer::~BuiltinServer() = default;

void BuiltinServer::Serve(uint64_t connection_id, UniqueFd fd) {
  std::string reply;
  if (builtin_ == BuiltinService::kDaytime || builtin_ == BuiltinService::kTime) {
    // The reply fits a fresh socket's buffer: sent and closed at once, nothing
    // kept, unless the socket takes only part of it.
    double started = MonotonicSeconds();
    reply = builtin_ == BuiltinService::kDaytime ? DaytimeLine(time(nullptr))
                                                 : TimeBytes(time(nullptr));
    ssize_t n = send(fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(reply.size()) || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      fd.reset();
      double seconds = MonotonicSeconds() - started;
      on_end_(connection_id, seconds < 0 ? 0 : static_cast<uint64_t>(seconds * 1e6));
      return;
    }
    reply.erase(0, n > 0 ? static_cast<size_t>(n) : 0);
  }
  auto connection = std::make_unique<Connection>(this, connection_id, std::move(fd));
  Connection* started = connection.get();
  connections_[connection_id] = std::move(connection);
  if (!started->Start(reply)) End(connection_id);
}

void BuiltinServer::EndAll() {
  while (!connections_.empty()) End(connections_.begin()->first);
}

void BuiltinServer::End(uint64_t connection_id) {
  auto found = connections_.find(connection_id);
  if (found == connections_.end()) return;
  double seconds = MonotonicSeconds() - found->second->started();
  connections_.erase(found);  // closes the socket, frees its events
  on_end_(connection_id, seconds < 0 ? 0 : static_cast<uint64_t>(seconds * 1e6));
}

}  // namespace gatehouse
