// DatagramReceiver: the datagram twin of Acceptor. It owns one UDP or
// SOCK_DGRAM UNIX listener, reads datagrams in bounded batches, drops what the
// reflection guard or the access rules refuse (with a reverse lookup when asked),
// and hands each admitted datagram on with a way back to its sender: the reply
// leaves from the exact address the request was sent to (IP_PKTINFO /
// IPV6_PKTINFO), cut to the reflection bound when the guard is on. A reload
// re-attaches it without closing the socket.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "common/config.h"
#include "common/event_loop.h"
#include "common/log_throttle.h"
#include "common/wire.h"
#include "supervisor/listener.h"
#include "supervisor/reverse_resolver.h"

namespace gatehouse {

// Sends one datagram's answer back to its sender. Safe to call after the
// receiver is gone (a reload closed the socket): the answer is then dropped.
using DatagramReplySender = std::function<void(const std::string& reply)>;

// With reflection_guard, a reply is at most this multiple of its request, and
// never cut below kReflectionFloorBytes (a time or daytime answer to an empty
// datagram must fit): a spoofed request gains an attacker at most 4 times its
// bytes, and two guarded services bouncing between each other cannot grow.
inline constexpr size_t kReflectionFactor = 4;
inline constexpr size_t kReflectionFloorBytes = 512;
// Source ports below this are system services (echo 7, chargen 19, DNS 53, ...):
// a request "from" one is spoofed or a loop; it gets no answer.
inline constexpr uint16_t kFirstUnprivilegedPort = 1024;

// The longest reply a guarded service sends to a request of `request_bytes`.
size_t ReflectionBound(size_t request_bytes);

class DatagramReceiver {
 public:
  // Receives each admitted datagram, its sender for log lines, and the way back.
  using Dispatch = std::function<void(const Datagram& datagram, const std::string& peer,
                                      DatagramReplySender reply)>;

  // `resolver` serves services with reverse_lookups; it must outlive the receiver.
  // Nothing is read until attached and told to receive.
  DatagramReceiver(event_base* base, Listener listener, ReverseResolver* resolver);
  ~DatagramReceiver();

  // The service this socket now serves; `on_denied` counts each datagram the
  // access rules or the reflection guard drop.
  void Attach(std::shared_ptr<const ServiceConfig> service, Dispatch dispatch,
              std::function<void()> on_denied);
  // The ports of the config's UDP services: no datagram from one is answered
  // (an echo/chargen loop, or two datagram programs answering each other).
  void SetServicePorts(std::shared_ptr<const std::set<uint16_t>> ports);
  // Read (true) or leave datagrams in the socket's buffer (false). Only services
  // in mode datagram or builtin are ever read (mode wait hands the socket on).
  void SetReceiving(bool receiving);
  // Whether its service's mode reads datagrams here.
  bool serves_datagrams() const;

  const Listener& listener() const { return *listener_; }
  Listener& listener() { return *listener_; }
  bool attached() const { return service_ != nullptr; }
  const std::string& service_name() const { return service_->name; }

 private:
  // One datagram as it arrived: who sent it, where to, and how to answer.
  struct Arrival;

  static void OnReadable(evutil_socket_t fd, short what, void* self);
  void ReceiveBatch();
  // The reflection guard, then the access rules (after a lookup when asked).
  void Admit(std::shared_ptr<Arrival> arrival);
  void Decide(std::shared_ptr<Arrival> arrival, const std::optional<std::string>& host);
  DatagramReplySender ReplySenderFor(std::shared_ptr<Arrival> arrival);
  void SendReply(const Arrival& arrival, std::string reply);
  // At most one line of each `kind` per 10 s, which says how many it stood for.
  void LogThrottled(const std::string& kind, const std::string& what);
  void DropDenied(const std::string& kind, const std::string& what);

  std::unique_ptr<Listener> listener_;
  std::shared_ptr<const ServiceConfig> service_;
  ReverseResolver* resolver_;
  Dispatch dispatch_;
  std::function<void()> on_denied_;
  std::shared_ptr<const std::set<uint16_t>> service_ports_;
  // Replies and lookups answered after this receiver is gone find it expired.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  EventPtr read_event_;
  bool receiving_ = false;
  size_t pending_lookups_ = 0;  // reverse lookups under way for this socket
  std::string buffer_;          // one datagram: kMaxDatagramBytes
  LogThrottle log_throttle_;    // by kind: a few fixed names
};

}  // namespace gatehouse
