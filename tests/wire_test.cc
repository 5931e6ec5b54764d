// The supervisor<->child protocol over a real SOCK_SEQPACKET socketpair: round
// trips, fd passing, the message table's rules, and rejection of anything
// malformed.
#include "common/wire.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <set>

#include "common/fd_passing.h"
#include "common/message_packet.h"
#include "common/message_table.h"
#include "common/tls_config.h"

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
  sent.program.exec = "/bin/cat";
  sent.program.argv = {"cat", "-u"};
  sent.program.env = {"A=1"};
  sent.program.kill_grace = 7;
  sent.program.working_directory = "/srv/www";
  sent.program.stderr_target = StderrTarget::kNull;
  sent.jail.chroot = "/srv/jail";
  sent.jail.change_identity = true;
  sent.jail.uid = 65534;
  sent.jail.gid = 65533;
  sent.jail.groups = {65534, 100};
  ASSERT_EQ(SendMessage(pair.a.get(), MessageType::kServiceDefinition, EncodePayload(sent)), 0);
  WireMessage message;
  std::string error;
  ASSERT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kMessage) << error;
  EXPECT_EQ(message.type, MessageType::kServiceDefinition);
  ServiceDefinition got;
  ASSERT_TRUE(DecodePayload(message.payload, &got, &error)) << error;
  EXPECT_EQ(got.name, "echo");
  EXPECT_EQ(got.program.exec, "/bin/cat");
  EXPECT_EQ(got.program.argv, sent.program.argv);
  EXPECT_EQ(got.program.env, sent.program.env);
  EXPECT_EQ(got.program.kill_grace, 7u);
  EXPECT_EQ(got.program.working_directory, "/srv/www");
  EXPECT_EQ(got.program.stderr_target, StderrTarget::kNull);
  EXPECT_EQ(got.jail.chroot, "/srv/jail");
  EXPECT_TRUE(got.jail.change_identity);
  EXPECT_EQ(got.jail.uid, 65534u);
  EXPECT_EQ(got.jail.gid, 65533u);
  EXPECT_EQ(got.jail.groups, sent.jail.groups);
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
  std::string exited = EncodePayload(ProgramExited{1, 2, 0, 0});
  EXPECT_EQ(SendMessage(pair.a.get(), MessageType::kProgramExited, exited, devnull), EINVAL);
  ASSERT_EQ(SendRaw(pair.a.get(), MessageType::kProgramExited, exited, {devnull}), 0);
  close(devnull);
  {
    WireMessage message;
    std::string error;
    EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
    EXPECT_EQ(error, "ProgramExited carried 1 fds, expected 0");
  }
  EXPECT_EQ(OpenFds(), before);
}

// A receiver at its fd limit gets the packet whole but not its fd: the message
// arrives marked, for the receiver to judge; a missing fd is refused otherwise.
TEST(Wire, AnFdTheReceiverHasNoRoomForIsMarkedLost) {
  Pair pair;
  int connection = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ConnectionInfo info;
  info.id = 1;
  info.proto = "TCP";
  ASSERT_EQ(SendMessage(pair.a.get(), MessageType::kConnection, EncodePayload(info), connection),
            0);
  close(connection);
  rlimit saved{};
  getrlimit(RLIMIT_NOFILE, &saved);
  // Use up every fd below a limit just above what is open now.
  std::vector<UniqueFd> filler;
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(OpenFds() + 8);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  while (true) {
    UniqueFd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd) break;
    filler.push_back(std::move(fd));
  }
  WireMessage message;
  std::string error;
  ReceiveStatus status = ReceiveMessage(pair.b.get(), &message, &error);
  filler.clear();
  setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_EQ(status, ReceiveStatus::kMessage) << error;
  EXPECT_EQ(message.type, MessageType::kConnection);
  EXPECT_TRUE(message.fd_lost);
  EXPECT_FALSE(message.fd);

  // Sent without its fd on purpose, the same row is refused.
  ASSERT_EQ(SendRaw(pair.a.get(), MessageType::kConnection, EncodePayload(info), {}), 0);
  EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
  EXPECT_EQ(error, "Connection carried 0 fds, expected 1");
}

// A pidfd is left out where the child has no PID namespace: those rows take 0 fds
// or their one fd, and nothing else.
TEST(Wire, APidfdMayBeLeftOutButNotMultiplied) {
  Pair pair;
  WireMessage message;
  std::string error;
  ASSERT_EQ(SendMessage(pair.a.get(), MessageType::kReady, ""), 0);
  EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kMessage) << error;
  EXPECT_FALSE(message.fd);
  EXPECT_FALSE(message.fd_lost);
  int a = open("/dev/null", O_RDONLY | O_CLOEXEC), b = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(SendRaw(pair.a.get(), MessageType::kReady, "", {a, b}), 0);
  close(a);
  close(b);
  EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
  EXPECT_EQ(error, "Ready carried 2 fds, expected 1");
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
  definition.program.exec = "relative";
  definition.program.argv = {"x"};
  EXPECT_FALSE(DecodePayload(EncodePayload(definition), &definition, &error));
  EXPECT_EQ(error, "exec: not an absolute path");
  // kill_grace: the config's bound holds on the wire too.
  definition.program.exec = "/bin/cat";
  definition.program.kill_grace = 3601;
  EXPECT_FALSE(DecodePayload(EncodePayload(definition), &definition, &error));
  EXPECT_EQ(error, "kill_grace: more than 3600 seconds");
  definition.program.kill_grace = 3600;
  EXPECT_TRUE(DecodePayload(EncodePayload(definition), &definition, &error)) << error;
  // The working directory is absolute, the stderr target one of the three.
  definition.program.working_directory = "srv";
  EXPECT_FALSE(DecodePayload(EncodePayload(definition), &definition, &error));
  EXPECT_EQ(error, "working_directory: not an absolute path");
  definition.program.working_directory = "/";
  std::string bad_target = EncodePayload(definition);
  // The stderr target's byte comes before the timeout (u32), six rlimits (u64),
  // The stderr target's byte comes before the timeout (u32), six rlimits (u64),
  // nice and umask (u32 each), the start soft file limit (u64), the empty banner
  // (u32), the capabilities (u64), no_new_privs, mode, builtin and dev_log (u8 each).
  bad_target[bad_target.size() - (4 + 6 * 8 + 4 + 4 + 8 + 4 + 8 + 1 + 1 + 1 + 1) - 1] = 3;
  EXPECT_FALSE(DecodePayload(bad_target, &definition, &error));
  EXPECT_EQ(error, "stderr_target: not log, client or null");
  // The timeout is at most a week.
  definition.program.stderr_target = StderrTarget::kLog;  // the refused decode left 3 there
  definition.program.timeout = 7 * 24 * 3600 + 1;
  EXPECT_FALSE(DecodePayload(EncodePayload(definition), &definition, &error));
  EXPECT_EQ(error, "timeout: more than 604800 seconds");
  definition.program.timeout = 0;
  definition.program.nice = 20;
  EXPECT_FALSE(DecodePayload(EncodePayload(definition), &definition, &error));
  EXPECT_EQ(error, "nice: not from -20 to 19");
  definition.program.nice = 0;
  definition.program.banner = std::string(4097, 'b');
  EXPECT_FALSE(DecodePayload(EncodePayload(definition), &definition, &error));
  EXPECT_EQ(error, "banner: longer than 4096 bytes");
  definition.program.banner.clear();
  definition.program.umask = 01000;
  EXPECT_FALSE(DecodePayload(EncodePayload(definition), &definition, &error));
  EXPECT_EQ(error, "umask: not from 0000 to 0777");
  definition.program.umask = 022;
  std::string bad_dev_log = EncodePayload(definition);
  bad_dev_log.back() = 2;  // dev_log, the last byte
  EXPECT_FALSE(DecodePayload(bad_dev_log, &definition, &error));
  EXPECT_EQ(error, "namespaces, private_network, dev_log: not a boolean");
  definition.jail.dev_log = false;
  ASSERT_TRUE(DecodePayload(EncodePayload(definition), &definition, &error)) << error;
  EXPECT_FALSE(definition.jail.dev_log);
  // no_new_privs is a boolean; capabilities are kept only by a child that
  // changes identity (gatehouse as root).
  std::string bad_privs = EncodePayload(definition);
  bad_privs[bad_privs.size() - 4] = 2;  // before mode, builtin and dev_log
  EXPECT_FALSE(DecodePayload(bad_privs, &definition, &error));
  EXPECT_EQ(error, "no_new_privs: not a boolean");
  definition.jail.capabilities = 1ull << 10;
  EXPECT_FALSE(DecodePayload(EncodePayload(definition), &definition, &error));
  EXPECT_EQ(error, "capabilities: need gatehouse to run as root");
  definition.jail.change_identity = true;
  definition.jail.no_new_privs = false;
  ServiceDefinition decoded;
  EXPECT_TRUE(DecodePayload(EncodePayload(definition), &decoded, &error)) << error;
  EXPECT_EQ(decoded.jail.capabilities, 1ull << 10);
  EXPECT_FALSE(decoded.jail.no_new_privs);
  // A sender from before the last fields (capabilities, no_new_privs) is
  // refused, not misread.
  std::string short_one = EncodePayload(definition);
  short_one.resize(short_one.size() - 9);
  EXPECT_FALSE(DecodePayload(short_one, &definition, &error));
  EXPECT_EQ(error, "capabilities: truncated");

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
  definition.program.exec = "/bin/cat";
  definition.program.argv = {"cat"};
  definition.jail.groups = {1, 2};
  CheckRandomPayloads(definition, 1);
  ConnectionInfo info;
  info.proto = "TCP";
  info.peer_ip = "127.0.0.1";
  CheckRandomPayloads(info, 2);
  CheckRandomPayloads(ProgramStarted{7, 4242}, 3);
  CheckRandomPayloads(ProgramExited{7, 4242, 0, 1000}, 4);
  CheckRandomPayloads(ProgramFailed{7, "no such file"}, 5);
  CheckRandomPayloads(FatalError{"drop failed"}, 6);
  CheckRandomPayloads(ProgramOutput{4242, "a line\n"}, 7);
  CheckRandomPayloads(ListenFd{1, 2, "tftp"}, 8);
  Datagram datagram;
  datagram.connection = info;
  datagram.connection.proto = "UDP";
  datagram.bytes = std::string("a\0b", 3);
  CheckRandomPayloads(datagram, 9);
  CheckRandomPayloads(DatagramReply{7, std::string("\0\xff", 2)}, 10);
  CheckRandomPayloads(ProgramsNoted{12}, 12);
  ServiceDefinition builtin;
  builtin.name = "daytime";
  builtin.program.mode = ServiceMode::kBuiltin;
  builtin.program.builtin = BuiltinService::kDaytime;
  CheckRandomPayloads(builtin, 11);
}

// A whole UDP datagram, any bytes, fits one Datagram message; one byte more does not.
TEST(Wire, ALargestDatagramRoundTripsAndALargerOneIsRefused) {
  Pair pair;
  Datagram sent;
  sent.connection.id = 9;
  sent.connection.proto = "UDP";
  sent.connection.peer_ip = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%1234567890";
  sent.connection.local_ip = sent.connection.peer_ip;
  sent.connection.remote_host = std::string(1025, 'h');
  sent.bytes.resize(kMaxDatagramBytes);
  for (size_t i = 0; i < sent.bytes.size(); ++i) sent.bytes[i] = static_cast<char>(i * 7);
  ASSERT_EQ(SendMessage(pair.a.get(), MessageType::kDatagram, EncodePayload(sent)), 0);
  WireMessage message;
  std::string error;
  ASSERT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kMessage) << error;
  Datagram got;
  ASSERT_TRUE(DecodePayload(message.payload, &got, &error)) << error;
  EXPECT_EQ(got.bytes, sent.bytes);
  EXPECT_EQ(got.connection.proto, "UDP");

  sent.bytes.push_back('x');
  EXPECT_FALSE(DecodePayload(EncodePayload(sent), &got, &error));
  EXPECT_EQ(error, "bytes: bad length");
  DatagramReply reply{9, std::string(kMaxDatagramReplyBytes + 1, 'r')};
  DatagramReply reply_got;
  EXPECT_FALSE(DecodePayload(EncodePayload(reply), &reply_got, &error));
  reply.bytes.pop_back();
  EXPECT_TRUE(DecodePayload(EncodePayload(reply), &reply_got, &error)) << error;
}

TEST(Wire, ABuiltinDefinitionHasABuiltinAndNoProgram) {
  ServiceDefinition definition;
  definition.name = "chargen";
  definition.program.mode = ServiceMode::kBuiltin;
  definition.program.builtin = BuiltinService::kChargen;
  ServiceDefinition got;
  std::string error;
  ASSERT_TRUE(DecodePayload(EncodePayload(definition), &got, &error)) << error;
  EXPECT_EQ(got.program.mode, ServiceMode::kBuiltin);
  EXPECT_EQ(got.program.builtin, BuiltinService::kChargen);

  definition.program.exec = "/bin/cat";
  definition.program.argv = {"cat"};
  EXPECT_FALSE(DecodePayload(EncodePayload(definition), &got, &error));
  EXPECT_EQ(error, "exec: given for a built-in service");

  definition.program.mode = ServiceMode::kFork;  // a builtin without mode = builtin
  EXPECT_FALSE(DecodePayload(EncodePayload(definition), &got, &error));
  EXPECT_EQ(error, "builtin: not one, or not with mode = builtin");
}

TEST(Wire, AListenFdNameCannotBreakListenFdNames) {
  ListenFd got;
  std::string error;
  EXPECT_TRUE(DecodePayload(EncodePayload(ListenFd{0, 1, "tftp"}), &got, &error)) << error;
  EXPECT_FALSE(DecodePayload(EncodePayload(ListenFd{0, 1, "a:b"}), &got, &error));
  EXPECT_FALSE(DecodePayload(EncodePayload(ListenFd{1, 1, "tftp"}), &got, &error));
  EXPECT_FALSE(DecodePayload(EncodePayload(ListenFd{0, kMaxListenFds + 1, "x"}), &got, &error));
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

// Well-framed packets of every type with random payload sizes around the row's
// bound and 0-2 fds: accepted exactly when the row allows both, and no fd leaks.
TEST(Wire, RandomFramedPacketsAreJudgedByTheirRow) {
  Pair pair;
  std::mt19937 random(8);
  int before = OpenFds();
  int accepted = 0, refused = 0;
  for (int i = 0; i < 2000; ++i) {
    const MessageRule& rule = kMessageTable[random() % std::size(kMessageTable)];
    size_t size = random() % 2 ? rule.max_payload - random() % 3 : rule.max_payload + random() % 3;
    if (size > rule.max_payload + 2) size = random() % 3;  // max_payload 0 underflowed
    std::vector<int> fds;
    for (int count = random() % 3; count > 0; --count) {
      fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    ASSERT_EQ(SendRaw(pair.a.get(), rule.type, std::string(size, 'x'), fds), 0);
    for (int fd : fds) close(fd);
    WireMessage message;
    std::string error;
    bool valid =
        (fds.size() == rule.fds || (rule.fd_optional && fds.empty())) && size <= rule.max_payload;
    EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error),
              valid ? ReceiveStatus::kMessage : ReceiveStatus::kInvalid)
        << rule.name << " with " << size << " bytes and " << fds.size() << " fds: " << error;
    (valid ? accepted : refused)++;
  }
  EXPECT_GT(accepted, 100);
  EXPECT_GT(refused, 100);
  EXPECT_EQ(OpenFds(), before);
}

TEST(Wire, AnEmptyPacketIsRefusedNotTakenForTheEnd) {
  Pair pair;
  ASSERT_EQ(send(pair.a.get(), "", 0, 0), 0);
  WireMessage message;
  std::string error;
  EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
  EXPECT_EQ(error, "empty packet");
  pair.a.reset();
  EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kClosed);
}

// Found by tests/fuzz/wire_message_fuzzer: the fds of an empty packet were
// installed by recvmsg but never closed, so a hostile child could drain the
// supervisor's fds one empty packet at a time.
TEST(Wire, AnEmptyPacketWithFdsIsRefusedAndItsFdsClosed) {
  Pair pair;
  int before = OpenFds();
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(devnull, 0);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(SendPacket(pair.a.get(), "", &devnull, 1), 0);
    WireMessage message;
    std::string error;
    EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
    EXPECT_EQ(error, "empty packet");
  }
  close(devnull);
  EXPECT_EQ(OpenFds(), before);
}

TEST(Wire, OversizedPacketsAndFdFloodsAreRefusedWithoutLeakingFds) {
  Pair pair;
  int before = OpenFds();
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(SendPacket(pair.a.get(), FramePacket(1, std::string(kMaxPacket, 'x')), &devnull, 1), 0);
  {
    WireMessage message;
    std::string error;
    EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
    EXPECT_EQ(error, "message truncated");
  }

  // More fds than the receiver has room for (sendmsg by hand: SendPacket refuses).
  constexpr size_t kFlood = kMaxReceivedFds + 4;
  int fds[kFlood];
  for (int& fd : fds) fd = devnull;
  std::string packet = FramePacket(static_cast<uint16_t>(MessageType::kConnection), "");
  iovec iov{packet.data(), packet.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof fds);
  std::memcpy(CMSG_DATA(cmsg), fds, sizeof fds);
  ASSERT_EQ(sendmsg(pair.a.get(), &msg, 0), static_cast<ssize_t>(packet.size()));
  close(devnull);
  {
    WireMessage message;
    std::string error;
    EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
    // More fds than our buffer holds (8 of 12 arrive): refused by the row's count.
    EXPECT_EQ(error, "Connection carried 8 fds, expected 1");
  }
  EXPECT_EQ(OpenFds(), before);
}

const MessageRule& RowOf(MessageType type) {
  const MessageRule* rule = FindMessageRule(static_cast<uint16_t>(type));
  EXPECT_NE(rule, nullptr);
  return *rule;
}

TEST(MessageTable, EachTypeHasOneRowAndOneName) {
  std::set<uint16_t> codes;
  std::set<std::string> names;
  for (const MessageRule& rule : kMessageTable) {
    codes.insert(static_cast<uint16_t>(rule.type));
    names.insert(rule.name);
    EXPECT_EQ(FindMessageRule(static_cast<uint16_t>(rule.type)), &rule);
    EXPECT_STREQ(MessageTypeName(rule.type), rule.name);
  }
  EXPECT_EQ(codes.size(), std::size(kMessageTable));
  EXPECT_EQ(names.size(), std::size(kMessageTable));
  EXPECT_EQ(FindMessageRule(0), nullptr);
  EXPECT_EQ(FindMessageRule(999), nullptr);
}

const char* StateName(LinkState state) {
  switch (state) {
    case LinkState::kStarting:
      return "starting";
    case LinkState::kReady:
      return "ready";
    case LinkState::kFatal:
      return "fatal";
  }
  return "?";
}

// The protocol's rules written out apart from the table, so that a wrong row fails here.
TEST(MessageTable, EachTypeIsAllowedOnlyFromItsSenderInItsStates) {
  using S = LinkState;
  struct Rule {
    MessageType type;
    Sender sender;
    std::set<LinkState> allowed_in;
  };
  const Rule rules[] = {
      {MessageType::kServiceDefinition, Sender::kSupervisor, {S::kStarting}},  // before Ready
      {MessageType::kConnection, Sender::kSupervisor, {S::kReady}},
      {MessageType::kShutdown, Sender::kSupervisor, {S::kReady}},
      {MessageType::kReady, Sender::kChild, {S::kStarting}},  // once
      {MessageType::kProgramStarted, Sender::kChild, {S::kReady}},
      {MessageType::kProgramExited, Sender::kChild, {S::kReady}},
      {MessageType::kProgramFailed, Sender::kChild, {S::kReady}},
      {MessageType::kFatal, Sender::kChild, {S::kStarting, S::kReady}},  // nothing after it
      {MessageType::kProgramOutput, Sender::kChild, {S::kReady}},
      {MessageType::kListenFd, Sender::kSupervisor, {S::kReady}},
      {MessageType::kDatagram, Sender::kSupervisor, {S::kReady}},
      {MessageType::kDatagramReply, Sender::kChild, {S::kReady}},
      {MessageType::kProgramSyslog, Sender::kChild, {S::kReady}},
      {MessageType::kProgramsNoted, Sender::kSupervisor, {S::kReady}},
      {MessageType::kProgramStderr, Sender::kChild, {S::kReady}},
      {MessageType::kTlsMaterial, Sender::kSupervisor, {S::kReady}},
  };
  ASSERT_EQ(std::size(rules), std::size(kMessageTable));
  for (const Rule& rule : rules) {
    for (Sender sender : {Sender::kSupervisor, Sender::kChild}) {
      for (LinkState state : {S::kStarting, S::kReady, S::kFatal}) {
        bool expected = sender == rule.sender && rule.allowed_in.count(state) == 1;
        std::string refusal;
        EXPECT_EQ(MessageAllowed(rule.type, sender, state, &refusal), expected)
            << MessageTypeName(rule.type) << " from the "
            << (sender == Sender::kChild ? "child" : "supervisor") << " while " << StateName(state);
        EXPECT_EQ(refusal.empty(), expected) << refusal;
      }
    }
  }
}

// A child's life as the supervisor checks it: Ready once, reports only after
// it, nothing after Fatal, and never a supervisor's message.
TEST(MessageTable, AChildSaysReadyOnceAndNothingAfterFatal) {
  LinkState state = LinkState::kStarting;
  std::string refusal;
  auto arrive = [&](MessageType type) {
    refusal.clear();
    if (!MessageAllowed(type, Sender::kChild, state, &refusal)) return false;
    state = LinkStateAfter(type, state);
    return true;
  };
  EXPECT_FALSE(arrive(MessageType::kProgramStarted));
  EXPECT_EQ(refusal, "unexpected ProgramStarted");
  EXPECT_TRUE(arrive(MessageType::kReady));
  EXPECT_EQ(state, LinkState::kReady);
  EXPECT_FALSE(arrive(MessageType::kReady));
  EXPECT_EQ(refusal, "unexpected Ready");
  EXPECT_TRUE(arrive(MessageType::kProgramStarted));
  EXPECT_TRUE(arrive(MessageType::kProgramExited));
  EXPECT_EQ(state, LinkState::kReady);
  EXPECT_FALSE(arrive(MessageType::kConnection));
  EXPECT_EQ(refusal, "Connection from the child, which never sends it");
  EXPECT_TRUE(arrive(MessageType::kFatal));
  EXPECT_EQ(state, LinkState::kFatal);
  EXPECT_FALSE(arrive(MessageType::kProgramExited));
  EXPECT_EQ(refusal, "a message after Fatal");
  EXPECT_FALSE(arrive(MessageType::kFatal));
  EXPECT_EQ(refusal, "a message after Fatal");
}

TEST(MessageTable, EveryTypeWithTheWrongFdCountIsRefusedAndItsFdsClosed) {
  Pair pair;
  int before = OpenFds();
  for (const MessageRule& rule : kMessageTable) {
    for (size_t count = 0; count <= rule.fds + 2; ++count) {
      if (count == rule.fds || (rule.fd_optional && count == 0)) continue;
      std::vector<int> fds;
      for (size_t i = 0; i < count; ++i) fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
      if (count <= 1) {  // SendMessage takes one fd at most, and refuses a wrong count itself
        EXPECT_EQ(SendMessage(pair.a.get(), rule.type, "", count ? fds[0] : -1), EINVAL)
            << rule.name;
      }
      ASSERT_EQ(SendRaw(pair.a.get(), rule.type, "", fds), 0);
      for (int fd : fds) close(fd);
      WireMessage message;
      std::string error;
      EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
      EXPECT_EQ(error, std::string(rule.name) + " carried " + std::to_string(count) +
                           " fds, expected " + std::to_string(rule.fds));
    }
  }
  EXPECT_EQ(OpenFds(), before);
}

TEST(MessageTable, EveryTypeOverItsBoundIsRefused) {
  Pair pair;
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  for (const MessageRule& rule : kMessageTable) {
    int fd = rule.fds == 1 ? devnull : -1;
    std::string largest(rule.max_payload, 'x');
    ASSERT_EQ(SendMessage(pair.a.get(), rule.type, largest, fd), 0) << rule.name;
    WireMessage message;
    std::string error;
    EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kMessage) << error;
    EXPECT_EQ(message.type, rule.type);
    EXPECT_EQ(message.payload.size(), rule.max_payload);

    std::string over(rule.max_payload + 1, 'x');
    EXPECT_EQ(SendMessage(pair.a.get(), rule.type, over, fd), EMSGSIZE) << rule.name;
    ASSERT_EQ(
        SendRaw(pair.a.get(), rule.type, over, fd >= 0 ? std::vector<int>{fd} : std::vector<int>{}),
        0);
    EXPECT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kInvalid);
    EXPECT_EQ(error, std::string(rule.name) + " payload of " + std::to_string(over.size()) +
                         " bytes, at most " + std::to_string(rule.max_payload));
  }
  close(devnull);
}

// Each bound holds the largest payload its type legitimately has.
TEST(MessageTable, BoundsHoldTheLargestLegitimatePayloads) {
  EXPECT_EQ(EncodePayload(ProgramStarted{1, 2}).size(),
            RowOf(MessageType::kProgramStarted).max_payload);
  EXPECT_EQ(EncodePayload(ProgramExited{1, 2, 3, 4}).size(),
            RowOf(MessageType::kProgramExited).max_payload);

  ConnectionInfo connection;
  connection.proto = "TCP";
  connection.peer_ip = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%interface-name1";
  connection.local_ip = connection.peer_ip;
  connection.remote_host = std::string(1025, 'h');  // NI_MAXHOST
  EXPECT_LE(EncodePayload(connection).size(), RowOf(MessageType::kConnection).max_payload);

  std::string longest_reason(kMaxWireString, 'r');
  EXPECT_LE(EncodePayload(ProgramFailed{1, longest_reason}).size(),
            RowOf(MessageType::kProgramFailed).max_payload);
  EXPECT_LE(EncodePayload(FatalError{longest_reason}).size(),
            RowOf(MessageType::kFatal).max_payload);
  // The child sends at most kMaxWireString bytes of lines per message.
  EXPECT_EQ(EncodePayload(ProgramOutput{2, std::string(kMaxWireString, 'o')}).size(),
            RowOf(MessageType::kProgramOutput).max_payload);

  // A definition with a dozen long arguments and a long environment.
  ServiceDefinition definition;
  definition.name = std::string(255, 'n');
  definition.program.exec = "/" + std::string(4094, 'e');  // PATH_MAX
  definition.program.argv.assign(12, std::string(1024, 'a'));
  definition.program.env.assign(64, std::string(256, 'v'));
  definition.jail.chroot = "/" + std::string(4094, 'c');
  definition.jail.groups.assign(64, 100);
  EXPECT_LE(EncodePayload(definition).size(), RowOf(MessageType::kServiceDefinition).max_payload);
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

namespace gatehouse {
namespace {

TlsMaterial SampleTlsMaterial() {
  TlsMaterial material;
  material.settings.verify = TlsVerify::kRequired;
  material.settings.min_version = kTls13;
  material.settings.handshake_timeout = 7;
  material.settings.ciphers = "ECDHE+AESGCM";
  material.settings.ciphersuites = "TLS_AES_128_GCM_SHA256";
  material.settings.alpn = {"h2", "http/1.1"};
  material.client_ca = "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n";
  material.pairs = {{"cert one", "key one"}, {"cert two", "key two"}};
  return material;
}

// The certificates travel whole, as one message within its row's bound.
TEST(Wire, TlsMaterialRoundTripsOverTheLink) {
  Pair pair;
  TlsMaterial sent = SampleTlsMaterial();
  // Two pairs of the largest files the supervisor sends together.
  sent.pairs = {{std::string(20000, 'c'), std::string(3000, 'k')},
                {std::string(20000, 'd'), std::string(3000, 'l')}};
  std::string payload = EncodePayload(sent);
  ASSERT_LE(payload.size(), kMaxTlsMaterialPayload);
  ASSERT_EQ(SendMessage(pair.a.get(), MessageType::kTlsMaterial, payload), 0);
  WireMessage message;
  std::string error;
  ASSERT_EQ(ReceiveMessage(pair.b.get(), &message, &error), ReceiveStatus::kMessage) << error;
  TlsMaterial received;
  ASSERT_TRUE(DecodePayload(message.payload, &received, &error)) << error;
  EXPECT_EQ(received.pairs, sent.pairs);
  EXPECT_EQ(received.settings.alpn, sent.settings.alpn);
  EXPECT_EQ(received.settings.verify, TlsVerify::kRequired);
  EXPECT_EQ(received.settings.min_version, kTls13);
  EXPECT_EQ(received.client_ca, sent.client_ca);
  // Over the row's bound: refused by the sender.
  EXPECT_EQ(SendMessage(pair.a.get(), MessageType::kTlsMaterial,
                        std::string(kMaxTlsMaterialPayload + 1, 'x')),
            EMSGSIZE);
}

TEST(Wire, MalformedTlsMaterialIsRejected) {
  std::string error;
  TlsMaterial decoded;
  auto rejects = [&](TlsMaterial material, const std::string& field) {
    error.clear();
    EXPECT_FALSE(DecodePayload(EncodePayload(material), &decoded, &error)) << field;
    EXPECT_NE(error.find(field), std::string::npos) << error;
  };
  TlsMaterial none = SampleTlsMaterial();
  none.pairs.clear();
  rejects(none, "pairs");
  TlsMaterial many = SampleTlsMaterial();
  many.pairs.resize(kMaxTlsPairs + 1);
  rejects(many, "trailing bytes");  // the count is refused before the pairs are read
  TlsMaterial version = SampleTlsMaterial();
  version.settings.min_version = 0x0302;  // TLS 1.1
  rejects(version, "min_version");
  TlsMaterial timeout = SampleTlsMaterial();
  timeout.settings.handshake_timeout = 0;
  rejects(timeout, "handshake_timeout");
  TlsMaterial no_ca = SampleTlsMaterial();
  no_ca.client_ca.clear();
  rejects(no_ca, "client_ca");
  std::string verify = EncodePayload(SampleTlsMaterial());
  verify[0] = 3;
  EXPECT_FALSE(DecodePayload(verify, &decoded, &error));
  std::string truncated = EncodePayload(SampleTlsMaterial());
  truncated.pop_back();
  EXPECT_FALSE(DecodePayload(truncated, &decoded, &error));
}

}  // namespace
}  // namespace gatehouse
