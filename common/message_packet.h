// One supervisor<->child message per SOCK_SEQPACKET packet:
//   u32 magic "GHW1" | u16 version | u16 type | u32 payload length | payload
// ReceiveMessage is the one place every arriving packet is checked against its
// row in the message table; neither side trusts the other's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/message_table.h"
#include "common/unique_fd.h"

namespace gatehouse {

inline constexpr uint32_t kWireMagic = 0x47485731;  // "GHW1"
inline constexpr uint16_t kWireVersion = 1;
inline constexpr size_t kWireHeaderSize = 12;
inline constexpr size_t kMaxPacket = kWireHeaderSize + LargestPayload();

// A message as received: its type, its raw payload and the fd it carried, if any.
struct WireMessage {
  MessageType type{};
  std::string payload;
  UniqueFd fd;
  // The row's fd was attached but could not be given to us (we were out of fds):
  // the receiver decides what the message is worth without it.
  bool fd_lost = false;
};

// The header and payload as one packet, unchecked (SendMessage's framing; tests
// and the hostile child use it to build packets that break the rules).
std::string FramePacket(uint16_t type, const std::string& payload);

// Sends one message, with `fd` attached when >= 0. Returns 0, or an errno value:
// EAGAIN when the socket is full (the fd then stays with the caller), EMSGSIZE
// for a payload over its row's bound, EINVAL for an fd count its row forbids.
int SendMessage(int socket, MessageType type, const std::string& payload, int fd = -1);

enum class ReceiveStatus { kMessage, kWouldBlock, kClosed, kInvalid };

// Receives one message; its fd is close-on-exec. kInvalid (with a message) for a
// bad header or version, an unknown type, a length that does not match the packet
// or exceeds the row's bound, or an fd count other than the row's; any fds that
// came with a refused packet are closed. Which messages may come when is the
// caller's check (MessageAllowed), as only it knows the link's state.
ReceiveStatus ReceiveMessage(int socket, WireMessage* message, std::string* error);

}  // namespace gatehouse
