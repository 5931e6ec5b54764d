#include "child/tls_terminator.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "child/tls_relay.h"

namespace gatehouse {

// The relay ends a handshake by itself at tls_handshake_timeout; this is the
// child's own bound on a relay that does not.
constexpr double kReportGraceSeconds = 5;

TlsTerminator::TlsTerminator(event_base* base, uint32_t run_seconds, Ready ready, Failed failed)
    : base_(base),
      run_seconds_(run_seconds),
      ready_(std::move(ready)),
      failed_(std::move(failed)) {}

TlsTerminator::~TlsTerminator() = default;

bool TlsTerminator::Update(const TlsMaterial& material, std::string* error) {
  wanted_ = true;
  auto contexts = std::make_shared<TlsContexts>();
  if (!contexts->Build(material, error)) return false;
  // This process holds the private keys now: no ptrace, no /proc/PID/mem.
  prctl(PR_SET_DUMPABLE, 0);
  contexts_ = std::move(contexts);
  return true;
}

void TlsTerminator::Start(const ConnectionInfo& connection, UniqueFd client) {
  if (!active()) return failed_(connection.id, "no TLS certificate loaded");
  auto handshake = std::make_unique<Handshake>();
  std::string error;
  handshake->relay =
      StartTlsRelay(*contexts_, client.get(), run_seconds_, &handshake->program_end, &error);
  client.reset();  // the relay has it
  if (handshake->relay < 0) {
    failed_(connection.id, error);
    return;
  }
  relays_.insert(handshake->relay);
  handshake->owner = this;
  handshake->connection = connection;
  Handshake* raw = handshake.get();
  raw->readable.reset(
      event_new(base_, raw->program_end.get(), EV_READ | EV_PERSIST, OnReadable, raw));
  raw->deadline.reset(evtimer_new(base_, OnDeadline, raw));
  event_add(raw->readable.get(), nullptr);
  timeval bound = Seconds(contexts_->settings().handshake_timeout + kReportGraceSeconds);
  event_add(raw->deadline.get(), &bound);
  handshakes_[connection.id] = std::move(handshake);
}

void TlsTerminator::OnReadable(evutil_socket_t, short, void* arg) {
  auto* handshake = static_cast<Handshake*>(arg);
  handshake->owner->ReadReport(handshake);
}

void TlsTerminator::OnDeadline(evutil_socket_t, short, void* arg) {
  auto* handshake = static_cast<Handshake*>(arg);
  handshake->owner->Fail(handshake, "TLS relay did not report its handshake");
}

void TlsTerminator::ReadReport(Handshake* handshake) {
  // Exactly the report's bytes, never one of the client's after it: the header,
  // then the length it names.
  std::string& report = handshake->report;
  uint32_t length = 0;
  for (;;) {
    size_t wanted = kTlsReportHeaderBytes;
    if (report.size() >= kTlsReportHeaderBytes) {
      memcpy(&length, report.data() + 1, sizeof length);
      if (length > kMaxTlsReportBytes) return Fail(handshake, "TLS relay report too long");
      wanted += length;
    }
    if (report.size() >= kTlsReportHeaderBytes && report.size() == wanted) break;
    char buffer[4096];
    size_t room = std::min(sizeof buffer, wanted - report.size());
    ssize_t got = recv(handshake->program_end.get(), buffer, room, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (got <= 0) return Fail(handshake, "TLS relay ended without a report");
    report.append(buffer, static_cast<size_t>(got));
  }
  std::string payload = report.substr(kTlsReportHeaderBytes);
  if (report[0] != 'R') {
    // The client failed its handshake; the relay has said why and ended.
    return Fail(handshake, report[0] == 'F' ? payload : std::string("bad TLS relay report"));
  }
  std::vector<std::string> env;
  std::string error;
  if (!ParseTlsEnvironment(payload, &env, &error)) return Fail(handshake, error);
  std::unique_ptr<Handshake> done = std::move(handshakes_[handshake->connection.id]);
  handshakes_.erase(done->connection.id);
  ready_(done->connection, std::move(done->program_end), std::move(env));
}

void TlsTerminator::Fail(Handshake* handshake, const std::string& reason) {
  std::unique_ptr<Handshake> done = std::move(handshakes_[handshake->connection.id]);
  handshakes_.erase(done->connection.id);
  if (relays_.count(done->relay) > 0) kill(done->relay, SIGKILL);  // reaped by the child's loop
  failed_(done->connection.id, reason);
}

void TlsTerminator::KillRelays() {
  for (pid_t relay : relays_) kill(relay, SIGKILL);  // reaped by the child's loop
}

void TlsTerminator::FailAll(const std::string& reason) {
  while (!handshakes_.empty()) Fail(handshakes_.begin()->second.get(), reason);
}

}  // namespace gatehouse
