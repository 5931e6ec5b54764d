// BuiltinServer: serves the TCP and UNIX stream built-ins (mode = builtin) inside
// gatehouse-child, on its event loop, without a process per connection. Every
// call on a connection is non-blocking (MSG_DONTWAIT), and a connection holds
// one fixed output buffer (kBuiltinBufferBytes):
// echo stops reading while its output is full, chargen writes only when the
// socket takes more, so a client that never reads stalls only itself and cannot
// grow the child's memory. With an idle timeout, a connection that moves no byte
// either way for that long is closed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/event_loop.h"
#include "common/service_spec.h"
#include "common/unique_fd.h"

namespace gatehouse {

inline constexpr size_t kBuiltinBufferBytes = 16 * 1024;

class BuiltinServer {
 public:
  // Runs when a connection has ended (closed), with how long it lasted.
  using OnEnd = std::function<void(uint64_t connection_id, uint64_t duration_us)>;

  // `idle_timeout`: seconds without progress before a connection is closed (0: never).
  BuiltinServer(event_base* base, BuiltinService builtin, uint32_t idle_timeout,
                std::string service_name, OnEnd on_end);
  ~BuiltinServer();  // closes what is left, without reports
  BuiltinServer(const BuiltinServer&) = delete;
  BuiltinServer& operator=(const BuiltinServer&) = delete;

  // Serves `fd` (a connected stream socket) until the protocol, the client or
  // the idle timeout ends it; then `on_end` runs.
  void Serve(uint64_t connection_id, UniqueFd fd);
  // Closes every connection now (TERM), reporting each.
  void EndAll();
  size_t connections() const { return connections_.size(); }

 private:
  class Connection;
  void End(uint64_t connection_id);

  event_base* base_;
  BuiltinService builtin_;
  uint32_t idle_timeout_;
  std::string service_name_;
  OnEnd on_end_;
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;
};

}  // namespace gatehouse
