// The supervisor<->child protocol: versioned, typed messages on a SOCK_SEQPACKET
// socketpair, one message per packet, a connection's fd passed with SCM_RIGHTS.
// Every field is checked where it is read; neither side trusts the other's bytes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace gatehouse {

inline constexpr uint32_t kWireMagic = 0x47485731;  // "GHW1"
inline constexpr uint16_t kWireVersion = 1;
inline constexpr size_t kWireHeaderSize = 12;
inline constexpr size_t kWireMaxMessage = 60 * 1024;

enum class MessageType : uint16_t {
  // supervisor -> child
  kServiceDefinition = 1,
  kConnection = 2,  // carries the connection's fd
  kShutdown = 3,    // take no more connections; exit once the programs are done
  // child -> supervisor
  kReady = 101,           // privileges dropped, serving
  kProgramStarted = 102,  // a connection's program runs
  kProgramExited = 103,   // ... and has ended
  kProgramFailed = 104,   // a connection's program could not be started
  kFatal = 105,           // the child cannot serve at all and will exit
};

const char* MessageTypeName(MessageType type);

struct ServiceDefinition {
  std::string name;
  std::string exec;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // NAME=value from the config
  std::string chroot;            // empty: none
  bool change_identity = false;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;
};

struct ConnectionInfo {
  uint64_t id = 0;
  std::string proto;  // "TCP" or "UNIX" (UCSPI's PROTO)
  std::string peer_ip;
  uint16_t peer_port = 0;
  std::string local_ip;
  uint16_t local_port = 0;
  std::string remote_host;  // reverse lookup; empty when off or not found
  // UNIX peers (SO_PEERCRED): ucspi-unix's UNIXREMOTEPID/EUID/EGID. -1 when unknown.
  int32_t unix_pid = -1;
  int32_t unix_uid = -1;
  int32_t unix_gid = -1;
};

struct ProgramStarted {
  uint64_t connection_id = 0;
  int32_t pid = 0;
};

struct ProgramExited {
  uint64_t connection_id = 0;
  int32_t pid = 0;
  int32_t wait_status = 0;  // as from waitpid()
  uint64_t duration_us = 0;
};

struct ProgramFailed {
  uint64_t connection_id = 0;
  std::string reason;
};

struct FatalError {
  std::string reason;
};

// A message as received: its type, its raw payload and the fd it carried, if any.
struct WireMessage {
  MessageType type{};
  std::string payload;
  UniqueFd fd;
};

// Encoding: each returns the payload for its type.
std::string EncodePayload(const ServiceDefinition& value);
std::string EncodePayload(const ConnectionInfo& value);
std::string EncodePayload(const ProgramStarted& value);
std::string EncodePayload(const ProgramExited& value);
std::string EncodePayload(const ProgramFailed& value);
std::string EncodePayload(const FatalError& value);

// Decoding: false with a message when the payload is malformed or out of range.
bool DecodePayload(const std::string& payload, ServiceDefinition* value, std::string* error);
bool DecodePayload(const std::string& payload, ConnectionInfo* value, std::string* error);
bool DecodePayload(const std::string& payload, ProgramStarted* value, std::string* error);
bool DecodePayload(const std::string& payload, ProgramExited* value, std::string* error);
bool DecodePayload(const std::string& payload, ProgramFailed* value, std::string* error);
bool DecodePayload(const std::string& payload, FatalError* value, std::string* error);

// Sends one message (with `fd` attached when >= 0). Returns 0, or an errno value
// (EAGAIN when the socket is full; the fd then stays with the caller).
int SendMessage(int socket, MessageType type, const std::string& payload, int fd = -1);
// Sends raw bytes as one packet (SendMessage's last step; tests use it to send
// malformed packets).
int SendPacket(int socket, const std::string& packet, int fd = -1);

enum class ReceiveStatus { kMessage, kWouldBlock, kClosed, kInvalid };

// Receives one message; received fds are close-on-exec. kInvalid (with a
// message) for a bad header, an unknown type, or an fd where none belongs.
ReceiveStatus ReceiveMessage(int socket, WireMessage* message, std::string* error);

}  // namespace gatehouse
