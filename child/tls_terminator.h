// TlsTerminator: the child's side of TLS. It holds the service's contexts (built
// from each TlsMaterial the supervisor sends; connections keep the ones they
// started with), starts a relay process per connection (child/tls_relay.h) and
// waits, on the loop, for its handshake report. A finished handshake hands the
// program's end of the relay, with the SSL_ variables, to `ready`; a failed one
// goes to `failed` (the relay has closed the client).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "common/tls_context.h"
#include "common/unique_fd.h"
#include "common/wire.h"

namespace gatehouse {

class TlsTerminator {
 public:
  using Ready = std::function<void(const ConnectionInfo& connection, UniqueFd program_end,
                                   std::vector<std::string> tls_env)>;
  using Failed = std::function<void(uint64_t connection_id, const std::string& reason)>;

  // `run_seconds` bounds each relay after its handshake (0: no bound).
  TlsTerminator(event_base* base, uint32_t run_seconds, Ready ready, Failed failed);
  ~TlsTerminator();

  // New contexts for the connections from now on; false (the old ones kept)
  // when the material does not build.
  bool Update(const TlsMaterial& material, std::string* error);
  // A TlsMaterial came: every connection is TLS from now on, and one that
  // finds no contexts (the first set did not build) is refused, never served plain.
  bool wanted() const { return wanted_; }
  bool active() const { return contexts_ != nullptr; }
  // Starts the relay for `client`; `ready` or `failed` follows (at once on error).
  void Start(const ConnectionInfo& connection, UniqueFd client);
  // Ends every handshake still running: their relays are killed and each is `failed`.
  void FailAll(const std::string& reason);
  // A reaped process: true when it was a relay.
  bool Reaped(pid_t pid) { return relays_.erase(pid) > 0; }
  // Relays alive: the child waits for them before it exits.
  size_t relays() const { return relays_.size(); }
  // KILL to every relay (the end of a shutdown's grace: one may wait for ever
  // on a client that reads nothing).
  void KillRelays();

 private:
  struct Handshake {
    TlsTerminator* owner;
    ConnectionInfo connection;
    UniqueFd program_end;
    pid_t relay;
    std::string report;  // read so far
    EventPtr readable;
    EventPtr deadline;
  };
  static void OnReadable(evutil_socket_t, short, void* handshake);
  static void OnDeadline(evutil_socket_t, short, void* handshake);
  void ReadReport(Handshake* handshake);
  void Fail(Handshake* handshake, const std::string& reason);

  event_base* base_;
  uint32_t run_seconds_;
  Ready ready_;
  Failed failed_;
  std::shared_ptr<const TlsContexts> contexts_;
  std::map<uint64_t, std::unique_ptr<Handshake>> handshakes_;
  std::set<pid_t> relays_;
  bool wanted_ = false;
};

}  // namespace gatehouse
