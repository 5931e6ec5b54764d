// The supervisor trusts nothing from a child: garbage, reports about connections
// it never sent, fds where none belong, a second Ready, a pid that is not its
// program, connections it takes and never answers for. Each ends that child
// (which is then restarted), the supervisor's memory stays flat, and the other
// services go on serving.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include "common/monotonic_clock.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// The well-behaved [echo] service of these tests answers as before.
bool EchoStillServes(const GatehouseProcess& gatehouse) {
  return RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse.Port("echo"))},
                    "still here\n")
             .out == "still here\n";
}

// gatehouse, with the hostile stand-in as its gatehouse-child (the real one
// beside it serves every service not named after a misbehaviour), on a config of
// `main` and `services`.
std::unique_ptr<GatehouseProcess> StartWithHostileChild(
    const TempDir& dir, const std::string& main,
    const std::map<std::string, std::string>& services) {
  CopyExecutable(Runfile("supervisor/gatehouse"), dir.path() + "/gatehouse");
  CopyExecutable(Runfile("tests/programs/hostile_child"), dir.path() + "/gatehouse-child");
  CopyExecutable(Runfile("child/gatehouse-child"), dir.path() + "/gatehouse-child.real");
  std::string config = WriteConfig(dir, main, services);
  GatehouseProcess::Launch launch;
  launch.binary = dir.path() + "/gatehouse";
  return std::make_unique<GatehouseProcess>(std::vector<std::string>{"--config", config},
                                            dir.path() + "/gatehouse.log", launch);
}

std::string Service(const std::string& name, const std::string& extra = "") {
  return "[" + name + "]\nport = 127.0.0.1:0\nexec = /bin/cat\n" + extra;
}

// `text` without the lines that contain `noise`.
std::string LinesWithout(const std::string& text, const std::string& noise) {
  std::string kept;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    std::string line = text.substr(start, end - start);
    if (line.find(noise) == std::string::npos) kept += line;
    start = end;
  }
  return kept;
}

// VmRSS of `pid` in kB (0 when unreadable).
long ResidentKb(pid_t pid) { return std::atol(ProcStatusField(pid, "VmRSS").c_str()); }

// The USR1 status line of `service` ("silent: mode fork, ..., programs 3, ...").
std::string StatusLine(GatehouseProcess& gatehouse, const std::string& service) {
  LogMark mark = gatehouse.MarkLog();
  kill(gatehouse.pid(), SIGUSR1);
  std::string needle = "status: " + service + ": ";
  if (!gatehouse.WaitForLog(needle, mark)) return "";
  std::string log = gatehouse.Log(mark);
  size_t start = log.find(needle);
  return log.substr(start + 8, log.find('\n', start) - start - 8);
}

// One connection attempt from `source` that is closed at once (with RST, so that
// no TIME_WAIT is left to use up ports). True when it was established.
bool ConnectAndDrop(const std::string& source, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in from{}, to{};
  from.sin_family = to.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  to.sin_port = htons(static_cast<uint16_t>(port));
  bool established = false;
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0) {
    int result = connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
    if (result == 0) {
      established = true;
    } else if (errno == EINPROGRESS) {
      // A full backlog (the child being restarted) drops the SYN: give up soon.
      pollfd writable{fd, POLLOUT, 0};
      int error = 0;
      socklen_t length = sizeof error;
      established = poll(&writable, 1, 200) == 1 &&
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
    }
  }
  linger abort{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  close(fd);
  return established;
}

struct StormResult {
  int attempts = 0;
  int established = 0;
  double seconds = 0;
};

// Up to `max_attempts` connections to `port` from kStormClients threads, each from
// its own source address, for at most `max_seconds`.
StormResult Storm(int port, int max_attempts, double max_seconds) {
  constexpr int kStormClients = 4;
  std::atomic<int> attempts{0}, established{0};
  double started = MonotonicSeconds();
  double deadline = started + max_seconds;
  std::vector<std::thread> clients;
  for (int i = 0; i < kStormClients; ++i) {
    std::string source = "127.0.0." + std::to_string(2 + i);
    clients.emplace_back([&, source] {
      while (attempts.fetch_add(1) < max_attempts && MonotonicSeconds() < deadline) {
        if (ConnectAndDrop(source, port)) ++established;
      }
    });
  }
  for (std::thread& client : clients) client.join();
  return StormResult{std::min(attempts.load(), max_attempts), established.load(),
                     MonotonicSeconds() - started};
}

TEST(HostileChild, ProtocolViolationsEndOnlyThatChild) {
  // gatehouse looks for gatehouse-child beside itself: put the hostile one there.
  TempDir dir;
  CopyExecutable(Runfile("supervisor/gatehouse"), dir.path() + "/gatehouse");
  CopyExecutable(Runfile("tests/programs/hostile_child"), dir.path() + "/gatehouse-child");
  CopyExecutable(Runfile("child/gatehouse-child"), dir.path() + "/gatehouse-child.real");
  std::map<std::string, std::string> services;
  for (const char* name :
       {"echo", "garbage", "unknown", "fdreport", "twiceready", "fatalflood", "notself"}) {
    services[std::string(name) + ".conf"] =
        std::string("[") + name + "]\nport = 127.0.0.1:0\nexec = /bin/cat\n";
  }
  std::string config = WriteConfig(dir, "log_level = 3\n", services);
  std::string log = dir.path() + "/gatehouse.log";
  GatehouseProcess::Launch launch;
  launch.binary = dir.path() + "/gatehouse";
  GatehouseProcess gatehouse({"--config", config}, log, launch);
  ASSERT_TRUE(gatehouse.started()) << ReadFile(log);
  auto log_has = [&](const std::string& text) {
    return WaitUntil([&] { return ReadFile(log).find(text) != std::string::npos; });
  };
  EXPECT_TRUE(log_has("garbage: child channel: protocol violation: bad header; ending the child"))
      << ReadFile(log);
  EXPECT_TRUE(log_has("unknown: child broke the protocol (ProgramStarted for unknown connection)"))
      << ReadFile(log);
  EXPECT_TRUE(log_has(
      "fdreport: child channel: protocol violation: ProgramExited carried 1 fds, expected 0"))
      << ReadFile(log);
  EXPECT_TRUE(log_has("twiceready: child broke the protocol (unexpected Ready)")) << ReadFile(log);
  EXPECT_TRUE(
      log_has("notself: child broke the protocol (Ready's pidfd is not the child's own process)"))
      << ReadFile(log);
  EXPECT_TRUE(log_has("fatalflood: child broke the protocol (a message after Fatal)"))
      << ReadFile(log);
  EXPECT_TRUE(log_has("garbage: starting a new child in 1 s")) << ReadFile(log);

  // The well-behaved service is untouched.
  ASSERT_TRUE(log_has("echo: ready"));
  EXPECT_TRUE(EchoStillServes(gatehouse));
  EXPECT_TRUE(gatehouse.Running());
  int status = gatehouse.Stop(SIGTERM);
  EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(log);
}

}  // namespace
}  // namespace gatehouse::testing

namespace gatehouse::testing {
namespace {

// A child that takes every connection and never reports (finding 4 of issue 5:
// the supervisor grew from 5 MB to 44 MB in 30 s) is ended once it holds more
// unreported connections than the bound, and restarted; the supervisor's memory
// stays where it was.
TEST(HostileChild, SilentChildUnderAStormCannotGrowTheSupervisor) {
  constexpr int kMaxConnections = 150000;
  constexpr double kMaxStormSeconds = 12;
  constexpr long kAllowedGrowthKb = 8 * 1024;
  TempDir dir;
  auto gatehouse = StartWithHostileChild(
      dir, "log_level = 2\n",
      // No max_servers bound in the way: the watchdog's own bound is under test.
      {{"silent.conf", Service("silent", "max_servers = 65535\n")},
       {"echo.conf", Service("echo")}});
  ASSERT_TRUE(gatehouse->started()) << gatehouse->Log();
  ASSERT_TRUE(gatehouse->WaitForLog("silent: ready (child pid ")) << gatehouse->Log();
  int port = gatehouse->Port("silent");
  ASSERT_GT(port, 0);
  long before = ResidentKb(gatehouse->pid());
  ASSERT_GT(before, 0);

  StormResult storm = Storm(port, kMaxConnections, kMaxStormSeconds);
  // Let the supervisor take what is left in its backlogs.
  WaitUntil([] { return false; }, 1);
  ASSERT_TRUE(gatehouse->Running()) << "status " << gatehouse->Stop(SIGTERM) << "\n"
                                    << LinesWithout(gatehouse->Log(), "refused");
  long after = ResidentKb(gatehouse->pid());
  ASSERT_GT(after, 0);
  std::string status = StatusLine(*gatehouse, "silent");
  printf(
      "storm: %d connections established of %d attempts in %.1f s; supervisor VmRSS %ld kB "
      "before, %ld kB after\n%s\n",
      storm.established, storm.attempts, storm.seconds, before, after, status.c_str());
  EXPECT_GT(storm.established, 8192) << "the storm did not reach the bound";
  if (!SkipsUnderAsan("supervisor VmRSS growth under 8 MiB")) {
    EXPECT_LE(after, before + kAllowedGrowthKb) << status;
  }
  EXPECT_TRUE(gatehouse->WaitForLog(
      "silent: child stalled: more than 8192 connections not reported started; ending the child"))
      << gatehouse->Log();
  EXPECT_TRUE(gatehouse->WaitForLog("silent: starting a new child in 1 s")) << gatehouse->Log();
  // The restarted child is a new process.
  std::string log = gatehouse->Log();
  size_t first = log.find("silent: ready (child pid ");
  size_t second = log.find("silent: ready (child pid ", first + 1);
  ASSERT_NE(second, std::string::npos) << log;
  EXPECT_NE(log.substr(first, log.find(')', first) - first),
            log.substr(second, log.find(')', second) - second));

  ASSERT_TRUE(gatehouse->WaitForLog("echo: ready"));
  EXPECT_TRUE(EchoStillServes(*gatehouse));
  EXPECT_TRUE(gatehouse->Running());
}

// The bound on unreported connections must not end an honest child. Clients that
// queue in the backlog while the supervisor cannot accept (here: SIGSTOP; in
// life, while a child restarts) are accepted all at once, faster than the child
// starts programs: 2,000 of them are served by the same child.
TEST(HostileChild, HealthyChildSurvivesABacklogAcceptedAtOnce) {
  constexpr int kConnections = 2000;
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_max < 2 * kConnections + 100) GTEST_SKIP() << "RLIMIT_NOFILE too low";
  files.rlim_cur = files.rlim_max;  // for us and the gatehouse we start
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &files), 0);
  TempDir dir;
  auto gatehouse = StartWithHostileChild(dir, "log_level = 2\n",
                                         {{"echo.conf", Service("echo", "max_servers = 65535\n")}});
  ASSERT_TRUE(gatehouse->started()) << gatehouse->Log();
  ASSERT_TRUE(gatehouse->WaitForLog("echo: ready (child pid ")) << gatehouse->Log();
  std::vector<pid_t> children = ChildPids(gatehouse->pid());
  int port = gatehouse->Port("echo");

  ASSERT_EQ(kill(gatehouse->pid(), SIGSTOP), 0);
  std::vector<int> clients;
  for (int i = 0; i < kConnections; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    clients.push_back(fd);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    // Non-blocking: the handshake completes later (polled below).
    int connected = connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
    EXPECT_TRUE(connected == 0 || errno == EINPROGRESS) << strerror(errno);
  }
  // Every handshake completes in the kernel, into the backlog.
  for (int fd : clients) {
    pollfd writable{fd, POLLOUT, 0};
    ASSERT_EQ(poll(&writable, 1, 5000), 1);
  }
  ASSERT_EQ(kill(gatehouse->pid(), SIGCONT), 0);
  std::string status;
  WaitUntil(
      [&] {
        status = StatusLine(*gatehouse, "echo");
        return status.find(", programs " + std::to_string(kConnections) + " of 65535,") !=
               std::string::npos;
      },
      30);
  EXPECT_NE(status.find(", programs " + std::to_string(kConnections) + " of 65535, served " +
                        std::to_string(kConnections) + ", denied 0, failed 0,"),
            std::string::npos)
      << status;
  EXPECT_EQ(gatehouse->Log().find("child stalled"), std::string::npos) << status;
  EXPECT_EQ(ChildPids(gatehouse->pid()), children);  // the same child, never restarted
  for (int fd : clients) close(fd);
}

// child_stall_timeout = 1: connections a child leaves unreported for a second
// end it, and their entries are freed (USR1 counts no programs).
TEST(HostileChild, UnreportedConnectionsEndTheChildAfterChildStallTimeout) {
  constexpr int kConnections = 5;
  TempDir dir;
  auto gatehouse = StartWithHostileChild(
      dir, "log_level = 2\n", {{"silent.conf", Service("silent", "child_stall_timeout = 1\n")}});
  ASSERT_TRUE(gatehouse->started()) << gatehouse->Log();
  ASSERT_TRUE(gatehouse->WaitForLog("silent: ready (child pid ")) << gatehouse->Log();
  int port = gatehouse->Port("silent");
  std::vector<int> held;
  double connected = MonotonicSeconds();
  for (int i = 0; i < kConnections; ++i) {
    int fd = ConnectTcp("127.0.0.1", port);
    ASSERT_GE(fd, 0);
    held.push_back(fd);
  }
  const std::string stalled = "silent: child stalled: a connection not reported started for 1 s (" +
                              std::to_string(kConnections) + " waiting); ending the child";
  ASSERT_TRUE(gatehouse->WaitForLog(stalled, 5)) << gatehouse->Log();
  double waited = MonotonicSeconds() - connected;
  EXPECT_GE(waited, 0.9) << "ended before child_stall_timeout";
  EXPECT_TRUE(gatehouse->WaitForLog("silent: starting a new child in 1 s")) << gatehouse->Log();
  std::string status = StatusLine(*gatehouse, "silent");
  EXPECT_NE(status.find(", programs 0 of 256, served " + std::to_string(kConnections) + ","),
            std::string::npos)
      << status;
  for (int fd : held) close(fd);
}

// A child that stalls is ended alone, as a crash would end it: a child that
// started one program honestly and then stalls is killed, and its program runs on
// as the supervisor's (counted, logged), until gatehouse stops.
TEST(HostileChild, AStalledChildIsEndedAloneAndItsProgramRunsOn) {
  TempDir dir;
  auto gatehouse = StartWithHostileChild(
      dir, "log_level = 3\nshutdown_timeout = 1\n",
      {{"oneprogram.conf", Service("oneprogram", "child_stall_timeout = 1\n")}});
  ASSERT_TRUE(gatehouse->started()) << gatehouse->Log();
  ASSERT_TRUE(gatehouse->WaitForLog("oneprogram: ready")) << gatehouse->Log();
  std::vector<pid_t> children = ChildPids(gatehouse->pid());
  ASSERT_EQ(children.size(), 1u);
  int port = gatehouse->Port("oneprogram");
  int first = ConnectTcp("127.0.0.1", port);
  ASSERT_GE(first, 0);
  std::vector<pid_t> programs;
  ASSERT_TRUE(WaitUntil([&] { return (programs = ChildPids(children[0])).size() == 1; }))
      << gatehouse->Log();
  pid_t program = programs[0];
  ASSERT_TRUE(gatehouse->WaitForLog(" pid " + std::to_string(program) + "\n")) << gatehouse->Log();

  int second = ConnectTcp("127.0.0.1", port);  // never reported
  ASSERT_GE(second, 0);
  EXPECT_TRUE(gatehouse->WaitForLog(
      "oneprogram: child stalled: a connection not reported started for 1 s (1 waiting)"))
      << gatehouse->Log();
  EXPECT_TRUE(gatehouse->WaitForLog("oneprogram: 1 programs run on without their child (pid " +
                                    std::to_string(program) + ")"))
      << gatehouse->Log();
  EXPECT_EQ(ParentPid(program), gatehouse->pid()) << gatehouse->Log();
  EXPECT_EQ(kill(program, 0), 0) << "sleep " << program << " ended with its child";
  // gatehouse's stop still ends it.
  EXPECT_EQ(gatehouse->Stop(SIGTERM, 20), 0) << gatehouse->Log();
  bool program_ended = kill(program, 0) != 0;
  EXPECT_TRUE(program_ended) << "sleep " << program << " outlived gatehouse";
  if (!program_ended) kill(program, SIGKILL);
  close(first);
  close(second);
}

// A child that breaks the protocol is not trusted with its programs either: a
// child that started one program honestly and then lies is killed, and its
// program gets TERM rather than running on as the supervisor's.
TEST(HostileChild, EndingALyingChildEndsItsPrograms) {
  TempDir dir;
  auto gatehouse = StartWithHostileChild(dir, "log_level = 3\n",
                                         {{"lyingprogram.conf", Service("lyingprogram")}});
  ASSERT_TRUE(gatehouse->started()) << gatehouse->Log();
  ASSERT_TRUE(gatehouse->WaitForLog("lyingprogram: ready")) << gatehouse->Log();
  std::vector<pid_t> children = ChildPids(gatehouse->pid());
  ASSERT_EQ(children.size(), 1u);
  int first = ConnectTcp("127.0.0.1", gatehouse->Port("lyingprogram"));
  ASSERT_GE(first, 0);
  ASSERT_TRUE(gatehouse->WaitForLog("lyingprogram: start 127.0.0.1:")) << gatehouse->Log();
  std::string log = gatehouse->Log();
  size_t at = log.find("lyingprogram: start 127.0.0.1:");
  at = log.find(" pid ", at);
  pid_t program = std::stoi(log.substr(at + 5));
  EXPECT_TRUE(gatehouse->WaitForLog(
      "lyingprogram: child broke the protocol (ProgramExited for unknown program); ending the "
      "child and its programs"))
      << gatehouse->Log();
  bool program_ended = WaitUntil([&] { return kill(program, 0) != 0; }, 5);
  EXPECT_TRUE(program_ended) << "sleep " << program << " outlived its child\n" << gatehouse->Log();
  if (!program_ended) kill(program, SIGKILL);
  EXPECT_EQ(gatehouse->Log().find("run on without their child"), std::string::npos)
      << gatehouse->Log();
  close(first);
}

// A child may not name any process as its program: reporting its parent (the
// supervisor) ends it, and the supervisor never logs that pid as a program.
TEST(HostileChild, ForeignProgramPidEndsTheChild) {
  TempDir dir;
  auto gatehouse = StartWithHostileChild(
      dir, "log_level = 3\n",
      {{"foreignpid.conf", Service("foreignpid")}, {"echo.conf", Service("echo")}});
  ASSERT_TRUE(gatehouse->started()) << gatehouse->Log();
  ASSERT_TRUE(gatehouse->WaitForLog("foreignpid: ready")) << gatehouse->Log();
  int fd = ConnectTcp("127.0.0.1", gatehouse->Port("foreignpid"));
  ASSERT_GE(fd, 0);
  std::string supervisor = std::to_string(gatehouse->pid());
  EXPECT_TRUE(
      gatehouse->WaitForLog("foreignpid: child broke the protocol (ProgramStarted names pid " +
                            supervisor + ", which is not its program); ending the child"))
      << gatehouse->Log();
  EXPECT_TRUE(gatehouse->WaitForLog("foreignpid: starting a new child in 1 s")) << gatehouse->Log();
  close(fd);
  EXPECT_EQ(gatehouse->Log().find(" pid " + supervisor + "\n"), std::string::npos)
      << gatehouse->Log();

  ASSERT_TRUE(gatehouse->WaitForLog("echo: ready"));
  EXPECT_TRUE(EchoStillServes(*gatehouse));
  EXPECT_TRUE(gatehouse->Running());
  int status = gatehouse->Stop(SIGTERM);
  EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << gatehouse->Log();
}

// pid 0 (kInProcess) is a built-in's answer; a DatagramReply answers a datagram.
// A fork service's child that claims either for a connection is lying.
TEST(HostileChild, InProcessReportOrDatagramReplyForAConnectionEndsTheChild) {
  TempDir dir;
  auto gatehouse = StartWithHostileChild(dir, "log_level = 3\n",
                                         {{"inprocess.conf", Service("inprocess")},
                                          {"strayreply.conf", Service("strayreply")},
                                          {"echo.conf", Service("echo")}});
  ASSERT_TRUE(gatehouse->started()) << gatehouse->Log();
  std::vector<int> connections;
  for (const char* name : {"inprocess", "strayreply"}) {
    ASSERT_TRUE(gatehouse->WaitForLog(std::string(name) + ": ready")) << gatehouse->Log();
    connections.push_back(ConnectTcp("127.0.0.1", gatehouse->Port(name)));
    ASSERT_GE(connections.back(), 0);
  }
  EXPECT_TRUE(gatehouse->WaitForLog(
      "inprocess: child broke the protocol (ProgramStarted names pid 0 for a service with mode = "
      "fork); ending the child"))
      << gatehouse->Log();
  EXPECT_TRUE(gatehouse->WaitForLog(
      "strayreply: child broke the protocol (DatagramReply for no datagram in flight); ending "
      "the child"))
      << gatehouse->Log();
  for (int fd : connections) close(fd);
  ASSERT_TRUE(gatehouse->WaitForLog("echo: ready"));
  EXPECT_TRUE(EchoStillServes(*gatehouse));
  EXPECT_TRUE(gatehouse->Running());
}

}  // namespace
}  // namespace gatehouse::testing
