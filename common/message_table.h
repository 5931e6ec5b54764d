// The supervisor<->child messages, one row per type: its name, who sends it, how
// many fds it carries, its largest payload, and the link states in which it may
// arrive. Everything the protocol knows about a type is in its row; both ends
// check every message they receive against it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/tls_config.h"
#include "common/wire.h"

namespace gatehouse {

enum class MessageType : uint16_t {
  kServiceDefinition = 1,
  kConnection = 2,
  kShutdown = 3,
  kListenFd = 4,
  kDatagram = 5,
  kProgramsNoted = 6,
  kTlsMaterial = 7,
  kReady = 101,
  kProgramStarted = 102,
  kProgramExited = 103,
  kProgramFailed = 104,
  kFatal = 105,
  kProgramOutput = 106,
  kDatagramReply = 107,
  kProgramSyslog = 108,
  kProgramStderr = 109,
};

enum class Sender : uint8_t { kSupervisor, kChild };

// The state of one supervisor<->child link, the same at both ends: the child
// starts, says Ready once, and may say Fatal as its last word.
enum class LinkState : uint8_t { kStarting, kReady, kFatal };

// A set of LinkStates.
using LinkStates = uint8_t;
constexpr LinkStates In(LinkState state) { return LinkStates(1u << static_cast<unsigned>(state)); }
constexpr LinkStates operator|(LinkState a, LinkState b) { return In(a) | In(b); }

struct MessageRule {
  MessageType type;
  const char* name;
  Sender sender;
  size_t fds;                           // carried by every message of this type, exactly
  size_t max_payload;                   // bytes after the header
  LinkStates allowed_in;                // states in which it may arrive
  std::optional<LinkState> moves_link;  // the state its arrival moves the link to
  // The fd may be left out (then the message carries none): pidfds, which the
  // child sends only when its programs are in a PID namespace.
  bool fd_optional = false;
};

// Payload bounds, each the largest legitimate payload of its type. A
// ServiceDefinition holds argv and env; a Connection two IPv6 addresses with a
// scope and an NI_MAXHOST host name, with room to spare; a reason is one string.
inline constexpr size_t kMaxDefinitionPayload = 60 * 1024;
inline constexpr size_t kMaxConnectionPayload = 4096;
inline constexpr size_t kMaxReasonPayload = 4 + kMaxWireString;
// A pid and a batch of whole lines of a program's stderr.
inline constexpr size_t kMaxOutputPayload = 4 + 4 + kMaxWireString;
// An index, a count and a LISTEN_FDNAMES name.
inline constexpr size_t kMaxListenFdPayload = 4 + 4 + 4 + kMaxListenFdName;
// A whole datagram (the largest UDP payload) with its Connection header.
inline constexpr size_t kMaxDatagramPayload = kMaxConnectionPayload + 4 + kMaxDatagramBytes;
inline constexpr size_t kMaxDatagramReplyPayload = 8 + 4 + kMaxDatagramReplyBytes;

// clang-format off
inline constexpr MessageRule kMessageTable[] = {
  // type, name, sender, fds, max payload,
  //   allowed in, moves the link to
  {MessageType::kServiceDefinition, "ServiceDefinition", Sender::kSupervisor, 0,
     kMaxDefinitionPayload,
     In(LinkState::kStarting), std::nullopt},
  {MessageType::kConnection, "Connection", Sender::kSupervisor, 1,
     kMaxConnectionPayload,
     In(LinkState::kReady), std::nullopt},
  {MessageType::kShutdown, "Shutdown", Sender::kSupervisor, 0,
     0,
     In(LinkState::kReady), std::nullopt},
  {MessageType::kListenFd, "ListenFd", Sender::kSupervisor, 1,
     kMaxListenFdPayload,
     In(LinkState::kReady), std::nullopt},
  {MessageType::kDatagram, "Datagram", Sender::kSupervisor, 0,
     kMaxDatagramPayload,
     In(LinkState::kReady), std::nullopt},
  // How many ProgramStarted with a pidfd the supervisor has read: the child keeps
  // a program unreaped until then, so that its pidfd still names a process.
  {MessageType::kProgramsNoted, "ProgramsNoted", Sender::kSupervisor, 0,
     8,
     In(LinkState::kReady), std::nullopt},
  // The certificates, keys and settings of a TLS service: after the definition
  // and again on every reload (new connections get the newest).
  {MessageType::kTlsMaterial, "TlsMaterial", Sender::kSupervisor, 0,
     kMaxTlsMaterialPayload,
     In(LinkState::kReady), std::nullopt},
  // Ready and ProgramStarted carry a pidfd (of the serving process, of the
  // program) when the service has its own PID namespace: the pidfd tells the
  // supervisor which process it really is, whatever pid the payload names.
  // Without one the pid is ours already (and checked by PPid).
  {MessageType::kReady, "Ready", Sender::kChild, 1,
     0,
     In(LinkState::kStarting), LinkState::kReady, true},
  {MessageType::kProgramStarted, "ProgramStarted", Sender::kChild, 1,
     8 + 4,
     In(LinkState::kReady), std::nullopt, true},
  {MessageType::kProgramExited, "ProgramExited", Sender::kChild, 0,
     8 + 4 + 4 + 8,
     In(LinkState::kReady), std::nullopt},
  {MessageType::kProgramFailed, "ProgramFailed", Sender::kChild, 0,
     8 + kMaxReasonPayload,
     In(LinkState::kReady), std::nullopt},
  {MessageType::kFatal, "Fatal", Sender::kChild, 0,
     kMaxReasonPayload,
     LinkState::kStarting | LinkState::kReady, LinkState::kFatal},
  {MessageType::kProgramOutput, "ProgramOutput", Sender::kChild, 0,
     kMaxOutputPayload,
     In(LinkState::kReady), std::nullopt},
  {MessageType::kDatagramReply, "DatagramReply", Sender::kChild, 0,
     kMaxDatagramReplyPayload,
     In(LinkState::kReady), std::nullopt},
  // A message from the service's /dev/log (ProgramOutput's payload, one line),
  // with the sender's pidfd while it is there to be named.
  {MessageType::kProgramSyslog, "ProgramSyslog", Sender::kChild, 1,
     kMaxOutputPayload,
     In(LinkState::kReady), std::nullopt, true},
  // A copy of the read end of a started program's stderr pipe (payload as
  // ProgramStarted's): the supervisor reads it only once the child has died, so
  // that a program outliving its child still has its stderr read. Left out
  // when the child is out of fds.
  {MessageType::kProgramStderr, "ProgramStderr", Sender::kChild, 1,
     8 + 4,
     In(LinkState::kReady), std::nullopt, true},
};
// clang-format on

// A WireMessage holds one fd; a row that needs more must grow it first.
inline constexpr size_t kMaxFdsPerMessage = 1;

constexpr size_t LargestPayload() {
  size_t largest = 0;
  for (const MessageRule& rule : kMessageTable) {
    if (rule.max_payload > largest) largest = rule.max_payload;
  }
  return largest;
}

constexpr bool FdCountsFit() {
  for (const MessageRule& rule : kMessageTable) {
    if (rule.fds > kMaxFdsPerMessage) return false;
  }
  return true;
}
static_assert(FdCountsFit(), "a message row carries more fds than WireMessage holds");

// The row for a type number off the wire; nullptr for an unknown type.
const MessageRule* FindMessageRule(uint16_t type);
const char* MessageTypeName(MessageType type);

// Whether a message of `type` from `sender` may arrive while the link is in
// `state`; if not, `refusal` says why ("unexpected Ready").
bool MessageAllowed(MessageType type, Sender sender, LinkState state, std::string* refusal);
// The link's state once a message of `type` has been accepted in `state`.
LinkState LinkStateAfter(MessageType type, LinkState state);

}  // namespace gatehouse
