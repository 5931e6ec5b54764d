#include "common/message_packet.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/fd_passing.h"
#include "common/sys_error.h"

namespace gatehouse {
namespace {

struct Header {
  uint32_t magic;
  uint16_t version;
  uint16_t type;
  uint32_t length;
};
static_assert(sizeof(Header) == kWireHeaderSize);

}  // namespace

std::string FramePacket(uint16_t type, const std::string& payload) {
  Header header{kWireMagic, kWireVersion, type, static_cast<uint32_t>(payload.size())};
  std::string packet(reinterpret_cast<const char*>(&header), sizeof header);
  return packet + payload;
}

int SendMessage(int socket, MessageType type, const std::string& payload, int fd) {
  const MessageRule* rule = FindMessageRule(static_cast<uint16_t>(type));
  size_t fds = fd >= 0 ? 1u : 0u;
  if (rule == nullptr || (rule->fds != fds && !(rule->fd_optional && fds == 0))) return EINVAL;
  if (payload.size() > rule->max_payload) return EMSGSIZE;
  return SendPacket(socket, FramePacket(static_cast<uint16_t>(type), payload), &fd,
                    fd >= 0 ? 1 : 0);
}

ReceiveStatus ReceiveMessage(int socket, WireMessage* message, std::string* error) {
  // One buffer per thread: this runs once per connection on the child's hot path.
  // One byte over the largest packet, so that a longer one shows as truncated.
  static thread_local std::vector<char> buffer(kMaxPacket + 1);
  std::vector<UniqueFd> fds;  // closes whatever a refused packet carried
  bool fds_lost = false;
  ssize_t received = ReceivePacket(socket, buffer.data(), buffer.size(), &fds, &fds_lost);
  // The peer died with our messages unread: said once, then what it sent is still
  // there to read, and the end after it.
  if (received < 0 && errno == ECONNRESET) {
    received = ReceivePacket(socket, buffer.data(), buffer.size(), &fds, &fds_lost);
    if (received < 0 && errno == ECONNRESET) received = 0;
  }
  if (received < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ReceiveStatus::kWouldBlock;
    if (errno == EMSGSIZE) {
      *error = "message truncated";
    } else if (errno == EBADMSG) {
      *error = "empty packet";
    } else {
      *error = ErrnoMessage("recvmsg", "", errno);
    }
    return ReceiveStatus::kInvalid;
  }
  if (received == 0) return ReceiveStatus::kClosed;

  Header header{};
  if (static_cast<size_t>(received) < sizeof header) {
    *error = "bad header";
    return ReceiveStatus::kInvalid;
  }
  std::memcpy(&header, buffer.data(), sizeof header);
  if (header.magic != kWireMagic) {
    *error = "bad header";
    return ReceiveStatus::kInvalid;
  }
  if (header.version != kWireVersion) {
    *error = "protocol version " + std::to_string(header.version) + ", expected " +
             std::to_string(kWireVersion);
    return ReceiveStatus::kInvalid;
  }
  const MessageRule* rule = FindMessageRule(header.type);
  if (rule == nullptr) {
    *error = "unknown message type " + std::to_string(header.type);
    return ReceiveStatus::kInvalid;
  }
  size_t payload_size = static_cast<size_t>(received) - sizeof header;
  if (header.length != payload_size) {
    *error = "payload length does not match the packet";
    return ReceiveStatus::kInvalid;
  }
  if (payload_size > rule->max_payload) {
    *error = std::string(rule->name) + " payload of " + std::to_string(payload_size) +
             " bytes, at most " + std::to_string(rule->max_payload);
    return ReceiveStatus::kInvalid;
  }
  // Fewer than the row's fds only when the kernel says it could not install them.
  bool lost = fds_lost && fds.size() < rule->fds;
  bool left_out = rule->fd_optional && fds.empty();
  if (fds.size() != rule->fds && !lost && !left_out) {
    *error = std::string(rule->name) + " carried " + std::to_string(fds.size()) +
             " fds, expected " + std::to_string(rule->fds);
    return ReceiveStatus::kInvalid;
  }
  message->type = rule->type;
  message->payload.assign(buffer.data() + sizeof header, payload_size);
  message->fd = fds.empty() ? UniqueFd() : std::move(fds[0]);
  message->fd_lost = lost;
  return ReceiveStatus::kMessage;
}

}  // namespace gatehouse
