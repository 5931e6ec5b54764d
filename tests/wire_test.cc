// The supervisor<->child protocol over a real SOCK_SEQPACKET socketpair: round
// trips, fd passing, the message table's rules, and rejection of anything
// malformed.
#include "common/wire.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <set>

#include "common/fd_passing.h"
#include "common/message_packet.h"
#include "common/message_table.h"

namespace gatehouse {
namespace {

struct Pair {
  UniqueFd a, b;
  Pair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
};

TEST(Wire, ServiceDefinitionRoundTrip) {
  Pair pair;
  ServiceDefinition sent;
  sent.name = "echo";
  sent.exec = "/bin/cat";
  sent.argv = {"cat", "-u"};
  sent.env = {"A=1"};
  sent.chroot = "/srv/jail";
  sent.change_identity = true;
  sent.uid = 65534;
  sent.gid = 65534;
  sent.groups = {65534, 100};
  ASSERT_EQ(SendMessage(pair.a.get(), MessageType::kServiceDefinition, EncodePayload(sent)), 0);
  WireMessage message;
  std::string error;
  ASSERT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kMessage) << error;
  EXPECT_EQ(message.type, MessageType::kServiceDefinition);
  ServiceDefinition got;
  ASSERT_TRUE(DecodePayload(message.payload, &got, &error)) << error;
  EXPECT_EQ(got.name, "echo");
  EXPECT_EQ(got.argv, sent.argv);
  EXPECT_EQ(got.env, sent.env);
  EXPECT_EQ(got.chroot, "/srv/jail");
  EXPECT_TRUE(got.change_identity);
  EXPECT_EQ(got.groups, sent.groups);
}

TEST(Wire, ConnectionCarriesAWorkingFdCloseOnExec) {
  Pair pair;
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  ConnectionInfo info;
  info.id = 42;
  info.proto = "TCP";
  info.peer_ip = "127.0.0.1";
  info.peer_port = 5555;
  ASSERT_EQ(
      SendMessage(pair.a.get(), MessageType::kConnection, EncodePayload(info), write_end.get()), 0);
  write_end.reset();  // only the passed copy remains

  WireMessage message;
  std::string error;
  ASSERT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kMessage) << error;
  ASSERT_TRUE(message.fd.valid());
  EXPECT_EQ(fcntl(message.fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ASSERT_EQ(write(message.fd.get(), "hi", 2), 2);
  char buffer[4] = {};
  ASSERT_EQ(read(read_end.get(), buffer, sizeof buffer), 2);
  EXPECT_STREQ(buffer, "hi");
  ConnectionInfo got;
  ASSERT_TRUE(DecodePayload(message.payload, &got, &error)) << error;
  EXPECT_EQ(got.id, 42u);
  EXPECT_EQ(got.peer_port, 5555);
}

// Sends `payload` as a message of `type` with `fds` attached, bypassing the
// sender's own checks (as a hostile peer would).
int SendRaw(int socket, MessageType type, const std::string& payload, std::vector<int> fds = {}) {
  return SendPacket(socket, FramePacket(static_cast<uint16_t>(type), payload), fds.data(),
                    fds.size());
}

int OpenFds() {
  int open_fds = 0;
  for (int fd = 0; fd < 1024; ++fd) open_fds += fcntl(fd, F_GETFD) != -1;
  return open_fds;
}

TEST(Wire, ConnectionWithoutFdIsRejected) {
  Pair pair;
  ConnectionInfo info;
  info.proto = "TCP";
  EXPECT_EQ(SendMessage(pair.a.get(), MessageType::kConnection, EncodePayload(info)), EINVAL);
  ASSERT_EQ(SendRaw(pair.a.get(), MessageType::kConnection, EncodePayload(info)), 0);
  WireMessage message;
  std::string error;
  EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
  EXPECT_EQ(error, "Connection carried 0 fds, expected 1");
}

TEST(Wire, FdOnAReportIsRejectedAndClosed) {
  Pair pair;
  int before = OpenFds();
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(SendMessage(pair.a.get(), MessageType::kReady, "", devnull), EINVAL);
  ASSERT_EQ(SendRaw(pair.a.get(), MessageType::kReady, "", {devnull}), 0);
  close(devnull);
  {
    WireMessage message;
    std::string error;
    EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
    EXPECT_EQ(error, "Ready carried 1 fds, expected 0");
  }
  EXPECT_EQ(OpenFds(), before);
}

TEST(Wire, GarbageIsRejected) {
  Pair pair;
  WireMessage message;
  std::string error;
  ASSERT_EQ(write(pair.a.get(), "garbage!", 8), 8);
  EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
  EXPECT_EQ(error, "bad header");

  // Right magic, wrong version.
  uint8_t header[12];
  uint32_t magic = kWireMagic, length = 0;
  uint16_t version = 9, type = 101;
  std::memcpy(header, &magic, 4);
  std::memcpy(header + 4, &version, 2);
  std::memcpy(header + 6, &type, 2);
  std::memcpy(header + 8, &length, 4);
  ASSERT_EQ(write(pair.a.get(), header, 12), 12);
  EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
  EXPECT_EQ(error, "protocol version 9, expected 1");

  version = kWireVersion;
  type = 999;
  std::memcpy(header + 4, &version, 2);
  std::memcpy(header + 6, &type, 2);
  ASSERT_EQ(write(pair.a.get(), header, 12), 12);
  EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
  EXPECT_EQ(error, "unknown message type 999");

  type = 101;
  length = 5;  // says 5, carries 0
  std::memcpy(header + 6, &type, 2);
  std::memcpy(header + 8, &length, 4);
  ASSERT_EQ(write(pair.a.get(), header, 12), 12);
  EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
}

TEST(Wire, MalformedPayloadsAreRejected) {
  std::string error;
  ProgramStarted started;
  EXPECT_FALSE(DecodePayload(std::string("\x01\x02", 2), &started, &error));
  EXPECT_EQ(error, "connection_id: truncated");
  EXPECT_FALSE(DecodePayload(EncodePayload(ProgramStarted{1, 1}), &started, &error));
  EXPECT_EQ(error, "pid: out of range");  // pid 1 (init) is never a program of ours
  EXPECT_FALSE(DecodePayload(EncodePayload(ProgramStarted{1, 77}) + "x", &started, &error));
  EXPECT_EQ(error, "trailing bytes");

  ServiceDefinition definition;
  definition.exec = "relative";
  definition.argv = {"x"};
  EXPECT_FALSE(DecodePayload(EncodePayload(definition), &definition, &error));
  EXPECT_EQ(error, "exec: not an absolute path");

  // A string length pointing past the end.
  std::string payload(4, '\xff');
  FatalError fatal;
  EXPECT_FALSE(DecodePayload(payload, &fatal, &error));
  EXPECT_EQ(error, "reason: bad length");

  ConnectionInfo info;
  info.proto = "SCTP";
  EXPECT_FALSE(DecodePayload(EncodePayload(info), &info, &error));
}

// Random bytes and mutated valid payloads (bounded: 20,000 inputs per type,
// fixed seed) never crash a decoder, and whatever a decoder accepts encodes back
// to exactly the bytes it read.
template <typename T>
void CheckRandomPayloads(const T& sample, uint32_t seed) {
  std::mt19937 random(seed);
  const std::string valid = EncodePayload(sample);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.assign(random() % 64, '\0');
      for (char& c : bytes) c = static_cast<char>(random() % 4 == 0 ? random() : random() % 3);
    } else {
      bytes = valid;
      for (int flips = 1 + random() % 3; flips > 0 && !bytes.empty(); --flips) {
        bytes[random() % bytes.size()] = static_cast<char>(random());
      }
      if (random() % 4 == 0) bytes.resize(random() % (bytes.size() + 1));
    }
    T value{};
    std::string error;
    if (DecodePayload(bytes, &value, &error)) {
      ++accepted;
      EXPECT_EQ(EncodePayload(value), bytes);
    }
  }
  EXPECT_GT(accepted, 0);  // the mutations do reach the accepting paths
}

TEST(Wire, RandomPayloadsAreRejectedOrRoundTrip) {
  ServiceDefinition definition;
  definition.name = "echo";
  definition.exec = "/bin/cat";
  definition.argv = {"cat"};
  definition.groups = {1, 2};
  CheckRandomPayloads(definition, 1);
  ConnectionInfo info;
  info.proto = "TCP";
  info.peer_ip = "127.0.0.1";
  CheckRandomPayloads(info, 2);
  CheckRandomPayloads(ProgramStarted{7, 4242}, 3);
  CheckRandomPayloads(ProgramExited{7, 4242, 0, 1000}, 4);
  CheckRandomPayloads(ProgramFailed{7, "no such file"}, 5);
  CheckRandomPayloads(FatalError{"drop failed"}, 6);
}

TEST(Wire, RandomPacketsAreRejectedWithoutLeakingFds) {
  Pair pair;
  std::mt19937 random(7);
  int before = OpenFds();
  for (int i = 0; i < 2000; ++i) {
    std::string packet(random() % 40, '\0');
    for (char& c : packet) c = static_cast<char>(random());
    if (packet.size() >= 4 && random() % 2) std::memcpy(packet.data(), &kWireMagic, 4);
    int fd = random() % 3 == 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
    if (packet.empty()) packet = "x";
    ASSERT_EQ(SendPacket(pair.a.get(), packet, &fd, fd >= 0 ? 1 : 0), 0);
    if (fd >= 0) close(fd);
    WireMessage message;
    std::string error;
    ReceiveStatus status = ReceiveMessage(pair.b.get(), &message, &error);
    EXPECT_TRUE(status == ReceiveStatus::kInvalid || status == ReceiveStatus::kMessage);
  }
  EXPECT_EQ(OpenFds(), before);  // every fd that came with a bad packet was closed
}

TEST(Wire, ClosedPeerIsReported) {
  Pair pair;
  pair.a.reset();
  WireMessage message;
  std::string error;
  EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kClosed);
}

}  // namespace
}  // namespace gatehouse
