// The packets between gatehouse generations (supervisor/generation_link.h): each
// side accepts only what the other side may say, every number and name bounded.
#include "supervisor/generation_link.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fd_passing.h"
#include "gtest/gtest.h"

namespace gatehouse {
namespace {

GenerationMessage Parsed(const std::string& packet, size_t fds, Generation from) {
  GenerationMessage message;
  std::string error;
  EXPECT_TRUE(ParseGenerationMessage(packet, fds, from, &message, &error))
      << packet << ": " << error;
  return message;
}

bool Refused(const std::string& packet, size_t fds, Generation from) {
  GenerationMessage message;
  std::string error;
  bool parsed = ParseGenerationMessage(packet, fds, from, &message, &error);
  return !parsed && !error.empty();
}

TEST(GenerationLinkTest, WhatWeSendParsesBack) {
  std::map<std::string, size_t> programs = {{"echo", 3}, {"web.1", 250}};
  EXPECT_EQ(Parsed(ProgramsPacket(programs), 0, Generation::kOlder).programs, programs);
  EXPECT_TRUE(Parsed(ProgramsPacket({}), 0, Generation::kOlder).programs.empty());
  EXPECT_EQ(Parsed(ReadyPacket(), 0, Generation::kLater).kind, GenerationMessage::Kind::kReady);
  GenerationMessage stop = Parsed(StopPacket(10), 0, Generation::kLater);
  EXPECT_EQ(stop.kind, GenerationMessage::Kind::kStop);
  EXPECT_EQ(stop.seconds, 10u);
  GenerationMessage successor = Parsed(SuccessorPacket(4242), 1, Generation::kLater);
  EXPECT_EQ(successor.kind, GenerationMessage::Kind::kSuccessor);
  EXPECT_EQ(successor.pid, 4242);
}

TEST(GenerationLinkTest, ATableAlwaysFitsThePeersBounds) {
  std::map<std::string, size_t> programs;
  for (int i = 0; i < 3000; ++i) programs[std::string(60, 'a') + std::to_string(i)] = 1u << 30;
  std::string packet = ProgramsPacket(programs);
  EXPECT_LE(packet.size(), 192u * 1024);
  EXPECT_EQ(Parsed(packet, 0, Generation::kOlder).programs.size(), 2048u);
  // And one packet of it goes through a link with the default buffers.
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  EXPECT_EQ(SendPacket(pair[0], packet), 0);
  close(pair[0]);
  close(pair[1]);
}

TEST(GenerationLinkTest, EachSideSaysOnlyItsOwnPackets) {
  EXPECT_TRUE(Refused(ProgramsPacket({{"echo", 1}}), 0, Generation::kLater));
  EXPECT_TRUE(Refused(ReadyPacket(), 0, Generation::kOlder));
  EXPECT_TRUE(Refused(StopPacket(0), 0, Generation::kOlder));
  EXPECT_TRUE(Refused(SuccessorPacket(99), 1, Generation::kOlder));
}

TEST(GenerationLinkTest, MalformedPacketsAreRefused) {
  for (const char* packet : {"", "ready ", "readyx", "stop", "stop -1", "stop 86401", "stop 1x",
                             "stop 99999999999999999999", "successor", "successor 1",
                             "successor 4194305", "successor 12 13", "hello"}) {
    EXPECT_TRUE(Refused(packet, packet == std::string("successor 1") ? 1 : 0, Generation::kLater))
        << packet;
  }
  for (const char* packet :
       {"programs\necho", "programs\necho x", "programs\necho -1", "programs\n 1",
        "programs\necho 1\necho 2", "programs\nec ho 1", "programs\necho 16777217",
        "programs\necho\x01 1", "programsx\necho 1", "programs extra\necho 1"}) {
    EXPECT_TRUE(Refused(packet, 0, Generation::kOlder)) << packet;
  }
  EXPECT_TRUE(Refused("programs\n" + std::string(65, 'a') + " 1", 0, Generation::kOlder));
}

TEST(GenerationLinkTest, FdCountsAreExact) {
  EXPECT_TRUE(Refused(SuccessorPacket(99), 0, Generation::kLater));
  EXPECT_TRUE(Refused(SuccessorPacket(99), 2, Generation::kLater));
  EXPECT_TRUE(Refused(ReadyPacket(), 1, Generation::kLater));
  EXPECT_TRUE(Refused(StopPacket(1), 1, Generation::kLater));
  EXPECT_TRUE(Refused(ProgramsPacket({}), 1, Generation::kOlder));
}

TEST(GenerationLinkTest, OnlySeqpacketUnixSocketsAreLinks) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  EXPECT_TRUE(IsGenerationLinkSocket(pair[0]));
  int stream[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream), 0);
  EXPECT_FALSE(IsGenerationLinkSocket(stream[0]));
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  EXPECT_FALSE(IsGenerationLinkSocket(pipe_fds[0]));
  for (int fd : {pair[0], pair[1], stream[0], stream[1], pipe_fds[0], pipe_fds[1]}) close(fd);
}

}  // namespace
}  // namespace gatehouse
