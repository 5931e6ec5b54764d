#include "common/message_channel.h"

#include <poll.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "common/monotonic_clock.h"
#include "common/sys_error.h"

namespace gatehouse {
namespace {
// Messages handled per wake-up, so one busy peer cannot starve the loop.
constexpr size_t kMessagesPerWakeup = 64;
constexpr double kInflightPauseSeconds = 0.01;
}  // namespace

MessageChannel::MessageChannel(event_base* base, UniqueFd socket, size_t max_queued,
                               MessageHandler on_message, ClosedHandler on_closed)
    : socket_(std::move(socket)),
      max_queued_(max_queued),
      on_message_(std::move(on_message)),
      on_closed_(std::move(on_closed)) {
  evutil_make_socket_nonblocking(socket_.get());
  read_event_.reset(event_new(base, socket_.get(), EV_READ | EV_PERSIST, OnReadable, this));
  write_event_.reset(event_new(base, socket_.get(), EV_WRITE, OnWritable, this));
  retry_timer_.reset(evtimer_new(base, OnWritable, this));
  event_add(read_event_.get(), nullptr);
}

bool MessageChannel::Send(MessageType type, std::string payload, UniqueFd fd) {
  if (!open_ || peer_gone_) return false;
  if (queue_.empty()) {
    int err = SendMessage(socket_.get(), type, payload, fd.get());
    if (err == 0) return true;  // fd closed here: the peer has its own copy now
    if (err == EPIPE || err == ECONNRESET) {
      PeerGone();
      return false;
    }
    if (!Transient(err)) {
      Close(ErrnoMessage("send", MessageTypeName(type), err));
      return false;
    }
    WaitToRetry(err);
  }
  if (queue_.size() >= max_queued_) return false;
  queue_.push_back(Outgoing{type, std::move(payload), std::move(fd)});
  return true;
}

void MessageChannel::Flush() {
  while (open_ && !queue_.empty()) {
    Outgoing& next = queue_.front();
    int err = SendMessage(socket_.get(), next.type, next.payload, next.fd.get());
    if (Transient(err)) {
      WaitToRetry(err);
      return;
    }
    if (err == EPIPE || err == ECONNRESET) return PeerGone();
    if (err != 0) {
      Close(ErrnoMessage("send", MessageTypeName(next.type), err));
      return;
    }
    queue_.pop_front();
  }
}

bool MessageChannel::Transient(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == ETOOMANYREFS;
}

void MessageChannel::WaitToRetry(int err) {
  if (err == ETOOMANYREFS) {
    // Too many fds in flight for our RLIMIT_NOFILE (an unprivileged gatehouse):
    // the socket stays writable, so waiting for EV_WRITE would spin. Wait for the
    // peer to take some instead.
    timeval pause = Seconds(kInflightPauseSeconds);
    event_add(retry_timer_.get(), &pause);
  } else {
    event_add(write_event_.get(), nullptr);
  }
}

void MessageChannel::PeerGone() {
  peer_gone_ = true;
  queue_.clear();  // closes queued fds
  event_del(write_event_.get());
  event_del(retry_timer_.get());
  if (reading_) event_active(read_event_.get(), EV_READ, 0);  // on to the end
}

void MessageChannel::FlushFor(double seconds) {
  double deadline = MonotonicSeconds() + seconds;
  while (open_ && !peer_gone_ && !queue_.empty()) {
    double left = deadline - MonotonicSeconds();
    if (left <= 0) return;
    pollfd writable{socket_.get(), POLLOUT, 0};
    if (poll(&writable, 1, static_cast<int>(left * 1000) + 1) > 0) Flush();
  }
}

void MessageChannel::Close(const std::string& reason) {
  if (!open_) return;
  open_ = false;
  event_del(read_event_.get());
  event_del(write_event_.get());
  event_del(retry_timer_.get());
  queue_.clear();  // closes queued fds
  socket_.reset();
  on_closed_(reason);
}

void MessageChannel::PauseReading() {
  reading_ = false;
  if (open_) event_del(read_event_.get());
}

void MessageChannel::ResumeReading() {
  if (reading_) return;
  reading_ = true;
  if (open_) event_add(read_event_.get(), nullptr);
}

void MessageChannel::OnWritable(evutil_socket_t, short, void* self) {
  static_cast<MessageChannel*>(self)->Flush();
}

void MessageChannel::OnReadable(evutil_socket_t, short, void* self) {
  static_cast<MessageChannel*>(self)->ReadMessages(kMessagesPerWakeup);
}

void MessageChannel::ReadAvailable() { ReadMessages(SIZE_MAX); }

void MessageChannel::ReadMessages(size_t limit) {
  MessageChannel* channel = this;
  for (size_t i = 0; i < limit && channel->open_ && channel->reading_; ++i) {
    WireMessage message;
    std::string error;
    switch (ReceiveMessage(channel->socket_.get(), &message, &error)) {
      case ReceiveStatus::kMessage:
        channel->on_message_(message);
        break;
      case ReceiveStatus::kWouldBlock:
        return;
      case ReceiveStatus::kClosed:
        channel->Close("");
        return;
      case ReceiveStatus::kInvalid:
        channel->Close("protocol violation: " + error);
        return;
    }
  }
}

}  // namespace gatehouse
