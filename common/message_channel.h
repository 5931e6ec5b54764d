// MessageChannel: one end of the supervisor<->child socketpair inside a libevent
// loop. Sends immediately when it can and queues (fds included) when the peer is
// slow; delivers each valid message to a callback; reports the end of the channel
// (peer gone or a message that breaks the protocol) once.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <utility>

#include "common/event_loop.h"
#include "common/message_packet.h"

namespace gatehouse {

class MessageChannel {
 public:
  // A message queued for the peer and not sent yet.
  struct Outgoing {
    MessageType type;
    std::string payload;
    UniqueFd fd;
  };

  using MessageHandler = std::function<void(WireMessage& message)>;
  // reason is empty when the peer closed cleanly.
  using ClosedHandler = std::function<void(const std::string& reason)>;

  MessageChannel(event_base* base, UniqueFd socket, size_t max_queued, MessageHandler on_message,
                 ClosedHandler on_closed);
  MessageChannel(const MessageChannel&) = delete;
  MessageChannel& operator=(const MessageChannel&) = delete;

  // False when the channel is closed, the peer is gone, or its queue is full;
  // `fd` is then closed.
  bool Send(MessageType type, std::string payload, UniqueFd fd = UniqueFd());
  // False once a send found the peer gone (EPIPE): what it sent before is still
  // read, up to the end, which closes the channel.
  bool peer_reading() const { return open_ && !peer_gone_; }
  bool open() const { return open_; }
  // Sends what is queued, waiting up to `seconds` for the peer (for a process
  // about to exit, whose loop no longer runs).
  void FlushFor(double seconds);
  // Handles every message already waiting (used when the peer is known to be gone,
  // so that its last reports are not lost).
  void ReadAvailable();
  // Ends the channel now (queued messages are dropped, their fds closed) and
  // calls the closed handler with `reason`. The handler must not destroy the channel.
  void Close(const std::string& reason);
  size_t queued() const { return queue_.size(); }
  // Takes what is queued and not sent (the peer is gone: its owner decides
  // what becomes of it rather than Close dropping it).
  std::deque<Outgoing> TakeUnsent() { return std::exchange(queue_, {}); }
  // Stops and restarts taking messages: the peer's messages (and their fds) wait
  // in the socket, and the peer queues, while this end cannot take more.
  void PauseReading();
  void ResumeReading();

 private:
  static void OnReadable(evutil_socket_t fd, short what, void* self);
  static void OnWritable(evutil_socket_t fd, short what, void* self);
  void Flush();
  void ReadMessages(size_t limit);
  // EAGAIN and friends: the peer is slow, try again later.
  static bool Transient(int err);
  // A send found the peer gone: nothing more is sent; its last messages are read.
  void PeerGone();
  void WaitToRetry(int err);

  UniqueFd socket_;
  size_t max_queued_;
  MessageHandler on_message_;
  ClosedHandler on_closed_;
  EventPtr read_event_;
  EventPtr write_event_;
  EventPtr retry_timer_;
  std::deque<Outgoing> queue_;
  bool open_ = true;
  bool reading_ = true;  // false while paused
  bool peer_gone_ = false;
};

}  // namespace gatehouse
