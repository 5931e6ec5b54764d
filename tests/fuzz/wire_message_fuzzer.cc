// The supervisor<->child message decoder: ReceiveMessage (common/message_packet.h)
// on a real SOCK_SEQPACKET socketpair, then the payload decoder of the type it
// claims (common/wire.h). Input: a flags byte (bit 0: attach an fd, as a hostile
// peer may to any message), then the packet exactly as sent. The rest of the
// input also goes to every DecodePayload directly, so the decoders are fuzzed
// even where the framing refuses.
// Properties: a refused packet has a reason; an accepted payload re-encodes to
// the same bytes (the codec has one encoding per value); no fd leaks.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "common/fd_passing.h"
#include "common/message_packet.h"
#include "common/wire.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using gatehouse::MessageType;

// Decodes `payload` as a T; when it is accepted, it must encode back exactly.
template <typename T>
void DecodeAs(const std::string& payload) {
  T value;
  std::string error;
  if (gatehouse::DecodePayload(payload, &value, &error)) {
    FUZZ_CHECK(gatehouse::EncodePayload(value) == payload);
  } else {
    FUZZ_CHECK(!error.empty());
  }
}

void DecodeAsType(MessageType type, const std::string& payload) {
  switch (type) {
    case MessageType::kServiceDefinition:
      return DecodeAs<gatehouse::ServiceDefinition>(payload);
    case MessageType::kConnection:
      return DecodeAs<gatehouse::ConnectionInfo>(payload);
    case MessageType::kProgramStarted:
    case MessageType::kProgramStderr:
      return DecodeAs<gatehouse::ProgramStarted>(payload);
    case MessageType::kProgramExited:
      return DecodeAs<gatehouse::ProgramExited>(payload);
    case MessageType::kProgramFailed:
      return DecodeAs<gatehouse::ProgramFailed>(payload);
    case MessageType::kFatal:
      return DecodeAs<gatehouse::FatalError>(payload);
    case MessageType::kProgramOutput:
    case MessageType::kProgramSyslog:
      return DecodeAs<gatehouse::ProgramOutput>(payload);
    case MessageType::kListenFd:
      return DecodeAs<gatehouse::ListenFd>(payload);
    case MessageType::kDatagram:
      return DecodeAs<gatehouse::Datagram>(payload);
    case MessageType::kDatagramReply:
      return DecodeAs<gatehouse::DatagramReply>(payload);
    case MessageType::kProgramsNoted:
      return DecodeAs<gatehouse::ProgramsNoted>(payload);
    case MessageType::kTlsMaterial:
      return DecodeAs<gatehouse::TlsMaterial>(payload);
    case MessageType::kShutdown:
    case MessageType::kReady:
      FUZZ_CHECK(payload.empty());  // their rows allow no payload
      return;
  }
}

struct SocketPair {
  int sender = -1;
  int receiver = -1;
  int attached = -1;  // the fd a packet carries when asked to
};

const SocketPair& Sockets() {
  static const SocketPair pair = [] {
    int fds[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    // Room for the largest packet the receiver accepts and then some.
    int buffer = 4 * static_cast<int>(gatehouse::kMaxPacket);
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    int attached = open("/dev/null", O_RDONLY | O_CLOEXEC);
    FUZZ_CHECK(attached >= 0);
    return SocketPair{fds[0], fds[1], attached};
  }();
  return pair;
}

// The lowest free fd number: where the kernel puts the next fd, so a received fd
// left open shows as a change across one input. Taken per input, since libFuzzer
// opens files of its own between inputs.
int LowestFreeFd() {
  int probe = dup(0);
  FUZZ_CHECK(probe >= 0);
  close(probe);
  return probe;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const SocketPair& sockets = Sockets();
  int lowest_free = LowestFreeFd();
  bool attach_fd = (data[0] & 1) != 0;
  std::string packet(reinterpret_cast<const char*>(data + 1), size - 1);

  int sent = gatehouse::SendPacket(sockets.sender, packet, &sockets.attached, attach_fd ? 1 : 0);
  FUZZ_CHECK(sent == 0);
  {
    gatehouse::WireMessage message;
    std::string error;
    gatehouse::ReceiveStatus status = gatehouse::ReceiveMessage(sockets.receiver, &message, &error);
    FUZZ_CHECK(status == gatehouse::ReceiveStatus::kMessage ||
               status == gatehouse::ReceiveStatus::kInvalid);
    if (status == gatehouse::ReceiveStatus::kMessage) {
      const gatehouse::MessageRule* rule =
          gatehouse::FindMessageRule(static_cast<uint16_t>(message.type));
      FUZZ_CHECK(rule != nullptr && message.payload.size() <= rule->max_payload);
      // The row's fd, or none where the row lets it be left out (a pidfd).
      FUZZ_CHECK(message.fd.valid() == (rule->fds == 1) ||
                 (rule->fd_optional && !message.fd.valid()));
      DecodeAsType(message.type, message.payload);
    } else {
      FUZZ_CHECK(!error.empty());
    }
  }
  // Nothing left in the socket, no received fd left open.
  char leftover;
  FUZZ_CHECK(recv(sockets.receiver, &leftover, 1, MSG_DONTWAIT) < 0);
  int now_free = LowestFreeFd();
  if (now_free != lowest_free) {
    char target[256] = {};
    std::string link = "/proc/self/fd/" + std::to_string(lowest_free);
    if (readlink(link.c_str(), target, sizeof target - 1) < 0) target[0] = '?';
    std::fprintf(stderr, "lowest free fd %d, was %d; fd %d is %s\n", now_free, lowest_free,
                 lowest_free, target);
  }
  FUZZ_CHECK(now_free == lowest_free);

  DecodeAs<gatehouse::ServiceDefinition>(packet);
  DecodeAs<gatehouse::ConnectionInfo>(packet);
  DecodeAs<gatehouse::ProgramStarted>(packet);
  DecodeAs<gatehouse::ProgramExited>(packet);
  DecodeAs<gatehouse::ProgramFailed>(packet);
  DecodeAs<gatehouse::FatalError>(packet);
  DecodeAs<gatehouse::ProgramOutput>(packet);
  return 0;
}
