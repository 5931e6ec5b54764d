// The payloads of the supervisor<->child messages and their codec: fixed-size
// integers and length-prefixed strings, every field checked where it is read.
// Framing, fd passing and which message may come when are elsewhere
// (message_packet.h, fd_passing.h, message_table.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/service_spec.h"

namespace gatehouse {

// Bounds the decoder enforces on every string and list.
inline constexpr size_t kMaxWireString = size_t{16} * 1024;
inline constexpr size_t kMaxWireListItems = 1024;

// The service the child runs: the config's own JailSpec and ProgramSpec, whole.
struct ServiceDefinition {
  std::string name;
  JailSpec jail;
  ProgramSpec program;
};

struct ConnectionInfo {
  uint64_t id = 0;
  std::string proto;  // "TCP", "UDP" or "UNIX" (UCSPI's PROTO)
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

// The pid in ProgramStarted and ProgramExited of a connection or datagram a
// built-in served in the child itself, without a program.
inline constexpr int32_t kInProcess = 0;

struct ProgramStarted {
  uint64_t connection_id = 0;
  int32_t pid = 0;  // the program's, or kInProcess
};

// The number of ProgramStarted (with a pidfd: in a PID namespace) the
// supervisor has read on this link, counted from the link's start.
struct ProgramsNoted {
  uint64_t starts = 0;
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

// mode = wait: one of the service's listening sockets, passed one per message
// (index of count) so that each message carries exactly one fd. The child starts
// the program once it holds all `count`.
inline constexpr uint32_t kMaxListenFds = 64;
inline constexpr size_t kMaxListenFdName = 255;  // systemd's FDNAME limit
struct ListenFd {
  uint32_t index = 0;
  uint32_t count = 0;
  std::string name;  // its LISTEN_FDNAMES entry: no ':'
};
// The connection id under which the child reports a wait service's program
// (ProgramStarted, ProgramExited, ProgramFailed), every run of it: the
// supervisor registers it when it sends the ListenFds. Real connection ids start at 1.
inline constexpr uint64_t kListenersConnectionId = 0;

// The largest UDP payload over IPv6 (65,535 - 8 bytes of UDP header), and what a
// reply may be over IPv4 (65,535 - 20 - 8), which bounds every reply.
inline constexpr size_t kMaxDatagramBytes = 65527;
inline constexpr size_t kMaxDatagramReplyBytes = 65507;

// mode = datagram and the UDP built-ins: one datagram the supervisor received
// and admitted; connection.proto is "UDP" (or "UNIX" for a SOCK_DGRAM socket).
struct Datagram {
  ConnectionInfo connection;
  std::string bytes;
};

// What the program (or built-in) answered to datagram `connection_id`; the
// supervisor sends it from the address the request was sent to. Sent before
// that datagram's ProgramExited; an empty reply sends nothing.
struct DatagramReply {
  uint64_t connection_id = 0;
  std::string bytes;
};

struct FatalError {
  std::string reason;
};

// Lines a program wrote to its stderr, each ending in '\n' (NUL bytes shown as '?').
struct ProgramOutput {
  int32_t pid = 0;
  std::string text;
};

// Encoding: each returns the payload for its type.
std::string EncodePayload(const ServiceDefinition& value);
std::string EncodePayload(const ConnectionInfo& value);
std::string EncodePayload(const ProgramStarted& value);
std::string EncodePayload(const ProgramExited& value);
std::string EncodePayload(const ProgramsNoted& value);
std::string EncodePayload(const ProgramFailed& value);
std::string EncodePayload(const FatalError& value);
std::string EncodePayload(const ProgramOutput& value);
std::string EncodePayload(const ListenFd& value);
std::string EncodePayload(const Datagram& value);
std::string EncodePayload(const DatagramReply& value);

// Decoding: false with a message when the payload is malformed or out of range.
bool DecodePayload(const std::string& payload, ServiceDefinition* value, std::string* error);
bool DecodePayload(const std::string& payload, ConnectionInfo* value, std::string* error);
bool DecodePayload(const std::string& payload, ProgramStarted* value, std::string* error);
bool DecodePayload(const std::string& payload, ProgramExited* value, std::string* error);
bool DecodePayload(const std::string& payload, ProgramsNoted* value, std::string* error);
bool DecodePayload(const std::string& payload, ProgramFailed* value, std::string* error);
bool DecodePayload(const std::string& payload, FatalError* value, std::string* error);
bool DecodePayload(const std::string& payload, ProgramOutput* value, std::string* error);
bool DecodePayload(const std::string& payload, ListenFd* value, std::string* error);
bool DecodePayload(const std::string& payload, Datagram* value, std::string* error);
bool DecodePayload(const std::string& payload, DatagramReply* value, std::string* error);

}  // namespace gatehouse
