// The real gatehouse-child, driven by the test as its supervisor over a
// SOCK_SEQPACKET socketpair on fd 3: it serves what the message table allows and
// refuses, by ending, anything the supervisor may not send in its state.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/message_packet.h"
#include "common/pidfd.h"
#include "common/wire.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// A gatehouse-child with our end of its control socket; killed and reaped by pid.
class ChildUnderTest {
 public:
  explicit ChildUnderTest(const TempDir& dir) : stderr_path_(dir.path() + "/child.err") {
    int pair[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
    control_.reset(pair[0]);
    UniqueFd theirs(pair[1]);
    UniqueFd err(open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, theirs.get(), 3);
    posix_spawn_file_actions_adddup2(&actions, err.get(), STDERR_FILENO);
    std::string program = Runfile("child/gatehouse-child");
    char* argv[] = {program.data(), nullptr};
    char* envp[] = {nullptr};
    EXPECT_EQ(posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv, envp), 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ChildUnderTest() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  int control() const { return control_.get(); }

  // The next message from the child, waiting up to 10 s.
  ReceiveStatus Receive(WireMessage* message, std::string* error) {
    pollfd readable{control_.get(), POLLIN, 0};
    if (poll(&readable, 1, 10000) != 1) {
      *error = "nothing from the child in 10 s";
      return ReceiveStatus::kWouldBlock;
    }
    return ReceiveMessage(control_.get(), message, error);
  }

  // The child's wait status once it has exited (up to 10 s); -1 if it has not.
  int WaitForExit() {
    int status = -1;
    bool exited = WaitUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; });
    reaped_ = exited;
    return exited ? status : -1;
  }

  std::string Stderr() const { return ReadFile(stderr_path_); }

 private:
  std::string stderr_path_;
  UniqueFd control_;
  pid_t pid_ = -1;

 public:
  pid_t pid() const { return pid_; }
  bool reaped_ = false;
};

ServiceDefinition CatService() {
  ServiceDefinition service;
  service.name = "cat";
  service.program.exec = "/bin/cat";
  service.program.argv = {"cat"};
  return service;
}

void SendDefinitionAndAwaitReady(ChildUnderTest& child) {
  ASSERT_EQ(
      SendMessage(child.control(), MessageType::kServiceDefinition, EncodePayload(CatService())),
      0);
  WireMessage message;
  std::string error;
  ASSERT_EQ(child.Receive(&message, &error), ReceiveStatus::kMessage) << error << child.Stderr();
  ASSERT_EQ(message.type, MessageType::kReady);
  // Without a PID namespace (this definition asks for none) the pids the child
  // reports are ours already: Ready carries no pidfd.
  EXPECT_FALSE(message.fd);
}

TEST(ChildLoop, ServesAConnectionAndShutsDownWhenAsked) {
  TempDir dir;
  ChildUnderTest child(dir);
  SendDefinitionAndAwaitReady(child);

  int ends[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
  UniqueFd client(ends[0]), connection(ends[1]);
  ConnectionInfo info;
  info.id = 7;
  info.proto = "TCP";
  ASSERT_EQ(
      SendMessage(child.control(), MessageType::kConnection, EncodePayload(info), connection.get()),
      0);
  connection.reset();  // the child's program holds the only other end now
  WireMessage message;
  std::string error;
  ASSERT_EQ(child.Receive(&message, &error), ReceiveStatus::kMessage) << error;
  ASSERT_EQ(message.type, MessageType::kProgramStarted) << child.Stderr();
  // ... nor ProgramStarted, whose pid is a process of the child's.
  ProgramStarted started;
  ASSERT_TRUE(DecodePayload(message.payload, &started, &error)) << error;
  EXPECT_FALSE(message.fd);
  EXPECT_EQ(ParentPid(started.pid), child.pid());
  // A copy of its stderr pipe's read end, for the supervisor to read should the child die.
  ASSERT_EQ(child.Receive(&message, &error), ReceiveStatus::kMessage) << error;
  ASSERT_EQ(message.type, MessageType::kProgramStderr) << child.Stderr();
  ProgramStarted named;
  ASSERT_TRUE(DecodePayload(message.payload, &named, &error)) << error;
  EXPECT_EQ(named.pid, started.pid);
  struct stat pipe_info {};
  ASSERT_TRUE(message.fd);
  ASSERT_EQ(fstat(message.fd.get(), &pipe_info), 0);
  EXPECT_TRUE(S_ISFIFO(pipe_info.st_mode));
  ASSERT_EQ(write(client.get(), "hello\n", 6), 6);
  shutdown(client.get(), SHUT_WR);
  EXPECT_EQ(ReadUntil(client.get(), "\n"), "hello\n");
  ASSERT_EQ(SendMessage(child.control(), MessageType::kShutdown, ""), 0);
  ASSERT_EQ(child.Receive(&message, &error), ReceiveStatus::kMessage) << error;
  EXPECT_EQ(message.type, MessageType::kProgramExited);
  int status = child.WaitForExit();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << child.Stderr();
}

TEST(ChildLoop, AConnectionBeforeTheDefinitionIsFatal) {
  TempDir dir;
  ChildUnderTest child(dir);
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  ConnectionInfo info;
  info.proto = "TCP";
  ASSERT_EQ(
      SendMessage(child.control(), MessageType::kConnection, EncodePayload(info), devnull.get()),
      0);
  WireMessage message;
  std::string error;
  ASSERT_EQ(child.Receive(&message, &error), ReceiveStatus::kMessage) << error;
  ASSERT_EQ(message.type, MessageType::kFatal);
  FatalError fatal;
  ASSERT_TRUE(DecodePayload(message.payload, &fatal, &error)) << error;
  EXPECT_EQ(fatal.reason, "expected a ServiceDefinition: unexpected Connection");
  int status = child.WaitForExit();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
}

TEST(ChildLoop, ASecondDefinitionAfterReadyEndsTheChild) {
  TempDir dir;
  ChildUnderTest child(dir);
  SendDefinitionAndAwaitReady(child);
  ASSERT_EQ(
      SendMessage(child.control(), MessageType::kServiceDefinition, EncodePayload(CatService())),
      0);
  WireMessage message;
  std::string error;
  EXPECT_EQ(child.Receive(&message, &error), ReceiveStatus::kClosed) << error;
  int status = child.WaitForExit();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_NE(child.Stderr().find("gatehouse-child[cat]: unexpected ServiceDefinition"),
            std::string::npos)
      << child.Stderr();
}

TEST(ChildLoop, AChildsOwnMessageFromTheSupervisorEndsTheChild) {
  TempDir dir;
  ChildUnderTest child(dir);
  SendDefinitionAndAwaitReady(child);
  UniqueFd self = OpenPidfd(getpid());  // Ready's row wants one fd
  ASSERT_EQ(SendMessage(child.control(), MessageType::kReady, "", self.get()), 0);
  WireMessage message;
  std::string error;
  EXPECT_EQ(child.Receive(&message, &error), ReceiveStatus::kClosed) << error;
  int status = child.WaitForExit();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_NE(child.Stderr().find("Ready from the supervisor, which never sends it"),
            std::string::npos)
      << child.Stderr();
}

// A UDP built-in's datagram is answered in the child itself: ProgramStarted and
// ProgramExited with pid kInProcess and no pidfd, and between them the reply,
// unless there is none (discard).
TEST(ChildLoop, BuiltinDatagramsAreAnsweredInProcess) {
  for (BuiltinService builtin : {BuiltinService::kEcho, BuiltinService::kDiscard}) {
    TempDir dir;
    ChildUnderTest child(dir);
    ServiceDefinition service;
    service.name = BuiltinServiceName(builtin);
    service.program.mode = ServiceMode::kBuiltin;
    service.program.builtin = builtin;
    ASSERT_EQ(SendMessage(child.control(), MessageType::kServiceDefinition, EncodePayload(service)),
              0);
    WireMessage message;
    std::string error;
    ASSERT_EQ(child.Receive(&message, &error), ReceiveStatus::kMessage) << error << child.Stderr();
    ASSERT_EQ(message.type, MessageType::kReady);

    Datagram datagram;
    datagram.connection.id = 41;
    datagram.connection.proto = "UDP";
    datagram.bytes = std::string("ping\0pong", 9);
    ASSERT_EQ(SendMessage(child.control(), MessageType::kDatagram, EncodePayload(datagram)), 0);
    ASSERT_EQ(child.Receive(&message, &error), ReceiveStatus::kMessage) << error << child.Stderr();
    ASSERT_EQ(message.type, MessageType::kProgramStarted);
    EXPECT_FALSE(message.fd);
    ProgramStarted started;
    ASSERT_TRUE(DecodePayload(message.payload, &started, &error)) << error;
    EXPECT_EQ(started.connection_id, 41u);
    EXPECT_EQ(started.pid, kInProcess);
    ASSERT_EQ(child.Receive(&message, &error), ReceiveStatus::kMessage) << error;
    if (builtin == BuiltinService::kEcho) {
      ASSERT_EQ(message.type, MessageType::kDatagramReply);
      DatagramReply reply;
      ASSERT_TRUE(DecodePayload(message.payload, &reply, &error)) << error;
      EXPECT_EQ(reply.connection_id, 41u);
      EXPECT_EQ(reply.bytes, datagram.bytes);
      ASSERT_EQ(child.Receive(&message, &error), ReceiveStatus::kMessage) << error;
    }
    ASSERT_EQ(message.type, MessageType::kProgramExited) << service.name;
    ProgramExited exited;
    ASSERT_TRUE(DecodePayload(message.payload, &exited, &error)) << error;
    EXPECT_EQ(exited.connection_id, 41u);
    EXPECT_EQ(exited.pid, kInProcess);
    EXPECT_EQ(exited.wait_status, 0);
  }
}

}  // namespace
}  // namespace gatehouse::testing
