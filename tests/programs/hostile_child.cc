// hostile_child: stands in for gatehouse-child to show that the supervisor
// trusts nothing a child says. For services named after a misbehaviour it
// misbehaves; for any other service it execs the real child
// (gatehouse-child.real beside it), keeping the control socket on fd 3.
//   silent*     says Ready, then takes every connection, closes it, never reports
//   foreignpid  says Ready, then reports its parent (the supervisor) as the program
//               of the first connection
//   oneprogram  says Ready, starts `sleep 60` for the first connection and reports
//               it honestly, then is silent
//   notself     says Ready with a pidfd of another process (its parent)
//   inprocess   says Ready, then reports the first connection served in-process
//               (pid 0), which only a built-in service may
//   strayreply  says Ready, then sends a DatagramReply for the first connection
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "common/fd_passing.h"
#include "common/message_packet.h"
#include "common/pidfd.h"
#include "common/wire.h"

using namespace gatehouse;

namespace {

// Takes messages until the channel ends or the supervisor ends us. Each
// connection's fd is closed as it arrives (WireMessage owns it); the first one's
// id goes to `on_connection`, if given.
void TakeConnections(int control, void (*on_connection)(int control, uint64_t id)) {
  bool first = true;
  for (;;) {
    WireMessage message;
    std::string error;
    // ReceiveMessage never blocks. The supervisor sends nothing invalid: anything
    // but a message is the end.
    pollfd readable{control, POLLIN, 0};
    if (poll(&readable, 1, -1) < 0 && errno != EINTR) return;
    ReceiveStatus status = ReceiveMessage(control, &message, &error);
    if (status == ReceiveStatus::kWouldBlock) continue;
    if (status != ReceiveStatus::kMessage) return;
    if (message.type != MessageType::kConnection) continue;
    ConnectionInfo info;
    if (first && on_connection != nullptr && DecodePayload(message.payload, &info, &error)) {
      on_connection(control, info.id);
    }
    first = false;
  }
}

// Ready carries a pidfd of the serving process, as gatehouse-child's does.
void SayReady(int control) {
  UniqueFd self = OpenPidfd(getpid());
  SendMessage(control, MessageType::kReady, "", self.get());
}

// With a pidfd of the supervisor itself: the pidfd cannot lie, so the check must
// look at what process it names.
void ReportParentAsProgram(int control, uint64_t id) {
  UniqueFd parent = OpenPidfd(getppid());
  SendMessage(control, MessageType::kProgramStarted, EncodePayload(ProgramStarted{id, getppid()}),
              parent.get());
}

void ReportInProcess(int control, uint64_t id) {
  SendMessage(control, MessageType::kProgramStarted, EncodePayload(ProgramStarted{id, kInProcess}));
}

void StartSleepAndReport(int control, uint64_t id) {
  pid_t pid = fork();
  if (pid == 0) {
    setsid();  // as gatehouse-child starts programs
    execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid > 0) {
    UniqueFd program = OpenPidfd(pid);
    SendMessage(control, MessageType::kProgramStarted, EncodePayload(ProgramStarted{id, pid}),
                program.get());
  }
}

// A program started honestly, then a lie: the exit of a program it never had.
void StartSleepThenLie(int control, uint64_t id) {
  StartSleepAndReport(control, id);
  SendMessage(control, MessageType::kProgramExited,
              EncodePayload(ProgramExited{id + 1000, 4242, 0, 0}));
}

void ReplyToAConnection(int control, uint64_t id) {
  SendMessage(control, MessageType::kDatagramReply, EncodePayload(DatagramReply{id, "stray"}));
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = argc > 1 ? argv[1] : "";
  const int control = 3;
  if (name == "garbage") {
    ssize_t ignored = write(control, "this is not a message", 21);
    (void)ignored;
  } else if (name == "unknown") {
    SayReady(control);
    UniqueFd self = OpenPidfd(getpid());
    SendMessage(control, MessageType::kProgramStarted, EncodePayload(ProgramStarted{999, 4242}),
                self.get());
  } else if (name == "fdreport") {
    // SendMessage itself refuses an fd its row forbids: frame the packet by hand.
    SayReady(control);
    int devnull = open("/dev/null", O_RDONLY);
    SendPacket(control,
               FramePacket(static_cast<uint16_t>(MessageType::kProgramExited),
                           EncodePayload(ProgramExited{1, 4242, 0, 0})),
               &devnull, 1);
  } else if (name == "emptypacket") {
    // Looks like a closed channel to a reader that does not check.
    ssize_t ignored = send(control, "", 0, 0);
    (void)ignored;
  } else if (name == "overbound") {
    SayReady(control);
    std::string report = EncodePayload(ProgramStarted{1, 4242});
    SendPacket(control,
               FramePacket(static_cast<uint16_t>(MessageType::kProgramStarted), report + "x"));
  } else if (name == "fatalflood") {
    for (int i = 0; i < 3; ++i) {
      SendMessage(control, MessageType::kFatal, EncodePayload(FatalError{"flood"}));
    }
  } else if (name == "twiceready") {
    SayReady(control);
    SayReady(control);
  } else if (name == "notself") {
    UniqueFd parent = OpenPidfd(getppid());
    SendMessage(control, MessageType::kReady, "", parent.get());
  } else if (name.rfind("silent", 0) == 0) {
    SayReady(control);
    TakeConnections(control, nullptr);
    return 0;
  } else if (name == "oneprogram") {
    SayReady(control);
    TakeConnections(control, StartSleepAndReport);
    return 0;
  } else if (name == "lyingprogram") {
    SayReady(control);
    TakeConnections(control, StartSleepThenLie);
    return 0;
  } else if (name == "inprocess") {
    SayReady(control);
    TakeConnections(control, ReportInProcess);
    return 0;
  } else if (name == "strayreply") {
    SayReady(control);
    TakeConnections(control, ReplyToAConnection);
    return 0;
  } else if (name == "foreignpid") {
    SayReady(control);
    TakeConnections(control, ReportParentAsProgram);
    return 0;
  } else {
    std::string self = argv[0];
    std::string real = self.substr(0, self.rfind('/') + 1) + "gatehouse-child.real";
    execv(real.c_str(), argv);
    perror("execv gatehouse-child.real");
    return 127;
  }
  pause();  // wait to be ended by the supervisor
  return 0;
}
