// Limits against hostile clients, on real sockets: the fd budget refuses what
// cannot fit RLIMIT_NOFILE (--check, start, reload), floods give a bounded number
// of log lines that add up, 2,000 idle clients leave the supervisor responsive
// and bounded, and a stopped child under nofile 1024 does not take the fds other
// services need. Figures are printed as "[figures] ..." lines.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

size_t OpenFdCount(pid_t pid) {
  CommandResult listing = RunCommand({"ls", "/proc/" + std::to_string(pid) + "/fd"});
  return Count(listing.out, "\n");
}

// How many of `pid`'s fds are sockets (a client's connection is one).
size_t SocketFdCount(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  CommandResult listing = RunCommand({"ls", dir});
  std::istringstream names(listing.out);
  size_t sockets = 0;
  for (std::string name; std::getline(names, name);) {
    sockets += Link(dir + "/" + name).rfind("socket:", 0) == 0 ? 1 : 0;
  }
  return sockets;
}

long RssKb(pid_t pid) { return std::atol(ProcStatusField(pid, "VmRSS").c_str()); }

// Clock ticks of user + system time the process used (/proc/PID/stat fields 14, 15).
long CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close_paren + 2));
  std::string field;
  long ticks = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::atol(field.c_str());
    if (i == 15) break;
  }
  return ticks;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A non-blocking connection from `source`: the handshake completes in the
// kernel (the listener's backlog) whether or not gatehouse accepts. -1 on failure.
int ConnectNonBlocking(const std::string& source, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)) {
    close(fd);
    return -1;
  }
  return fd;
}

// Waits until `fd` is connected (writable); false if it failed or took too long.
bool Connected(int fd, double timeout_seconds) {
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(timeout_seconds * 1000)) != 1) return false;
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  return error == 0;
}

// A request to `port` from 127.0.0.1: the seconds until the echo came back, or
// -1 if it did not come within `timeout_seconds`.
double EchoSeconds(int port, double timeout_seconds) {
  double start = Now();
  int fd = ConnectTcp("127.0.0.1", port);
  if (fd < 0) return -1;
  std::string reply;
  if (write(fd, "ping\n", 5) == 5) reply = ReadUntil(fd, "ping\n", timeout_seconds);
  close(fd);
  return reply == "ping\n" ? Now() - start : -1;
}

// The number after `key` in the latest USR1 status line of `service`, -1 if none.
long StatusNumber(const std::string& log, const std::string& service, const std::string& key) {
  size_t line = log.rfind("status: " + service + ": ");
  if (line == std::string::npos) return -1;
  size_t at = log.find(key, line);
  size_t end = log.find('\n', line);
  if (at == std::string::npos || at > end) return -1;
  return std::atol(log.c_str() + at + key.size());
}

// USR1 until `service`'s status line says `key` `value`, or the timeout.
bool StatusReaches(GatehouseProcess& gatehouse, const std::string& service, const std::string& key,
                   long value, double timeout_seconds) {
  return WaitUntil(
      [&] {
        LogMark mark = gatehouse.MarkLog();
        kill(gatehouse.pid(), SIGUSR1);
        if (!gatehouse.WaitForLog("status: " + service + ": ", mark, 2)) return false;
        return StatusNumber(gatehouse.Log(mark), service, key) == value;
      },
      timeout_seconds);
}

struct Outcomes {
  int served = 0;      // read the echo
  int refused = 0;     // closed (or reset) without a byte
  int waited_out = 0;  // still open, or something else came, at the deadline
};

// Reads every client until it has its "x\n" or is closed, all at once, within
// `timeout_seconds` in all; closes them.
Outcomes Collect(const std::vector<int>& clients, double timeout_seconds) {
  Outcomes outcomes;
  std::vector<pollfd> waiting;
  std::vector<std::string> got(clients.size());
  for (int fd : clients) waiting.push_back(pollfd{fd, POLLIN, 0});
  double deadline = Now() + timeout_seconds;
  while (!waiting.empty() && Now() < deadline) {
    if (poll(waiting.data(), waiting.size(), 200) <= 0) continue;
    for (size_t i = 0; i < waiting.size();) {
      bool done = false;
      if (waiting[i].revents != 0) {
        char buffer[16];
        ssize_t n = recv(waiting[i].fd, buffer, sizeof buffer, MSG_DONTWAIT);
        std::string& text = got[i];
        if (n > 0) text.append(buffer, static_cast<size_t>(n));
        if (text == "x\n") {
          ++outcomes.served;
          done = true;
        } else if (n == 0 || (n < 0 && errno != EAGAIN)) {
          text.empty() ? ++outcomes.refused : ++outcomes.waited_out;
          done = true;
        }
      }
      if (done) {
        close(waiting[i].fd);
        waiting[i] = waiting.back();
        got[i] = got.back();
        waiting.pop_back();
        got.pop_back();
      } else {
        waiting[i].revents = 0;
        ++i;
      }
    }
  }
  outcomes.waited_out += static_cast<int>(waiting.size());
  for (const pollfd& p : waiting) close(p.fd);
  return outcomes;
}

std::vector<std::string> Prlimit(rlim_t soft, rlim_t hard) {
  return {"prlimit", "--nofile=" + std::to_string(soft) + ":" + std::to_string(hard), "--"};
}

class LimitsTest : public GatehouseTest {};

// --- the fd budget ---

TEST_F(LimitsTest, CheckRefusesAConfigThatCannotFitTheHardLimitAndNamesTheNumbers) {
  std::string config =
      WriteConfig(dir_, "",
                  {{"web.conf", "[web]\nport = 127.0.0.1:0\nexec = /bin/cat\nmax_servers = 1000\n"},
                   {"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
  std::vector<std::string> check = Prlimit(1024, 1024);
  for (const std::string& arg :
       {Gatehouse(), std::string("--check"), std::string("--config"), config}) {
    check.push_back(arg);
  }
  CommandResult refused = RunCommand(check);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  // web 1,009 (1 listener, 1,000 connections, 8 for its children), echo 265, reserve 32.
  EXPECT_NE(refused.err.find("/services.d/web.conf:4: max_servers: services need up to 1306 fds "
                             "at once, the hard limit is 1024 (ulimit -Hn); lower max_servers or "
                             "raise LimitNOFILE= (web 1009: 1 listeners + 1000 connections + 8 "
                             "for its children; echo 265: "),
            std::string::npos)
      << refused.err;

  // A hard limit it fits, a soft one it does not: a warning, config OK.
  check[1] = "--nofile=1024:4096";
  CommandResult warned = RunCommand(check);
  EXPECT_EQ(warned.exit_code, 0) << warned.err;
  EXPECT_NE(warned.out.find("warning: " + dir_.path() +
                            "/services.d/web.conf:4: max_servers: services need up to 1306 fds at "
                            "once, more than the soft limit 1024 gatehouse was started with"),
            std::string::npos)
      << warned.out;
  EXPECT_NE(warned.out.find("config OK"), std::string::npos);

  // Started for real, it refuses the same way and binds nothing.
  check[1] = "--nofile=1024:1024";
  check.erase(check.begin() + 4);  // --check
  CommandResult started = RunCommand(check, "", 10);
  EXPECT_EQ(started.exit_code, 1) << started.out << started.err;
  EXPECT_NE(started.err.find("max_servers: services need up to 1306 fds at once"),
            std::string::npos)
      << started.err;
}

TEST_F(LimitsTest, AReloadThatWouldNotFitIsRefusedAndTheRunningConfigStays) {
  GatehouseProcess::Launch launch;
  launch.wrapper = Prlimit(1024, 1024);
  ASSERT_TRUE(Start("", {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}}, launch));
  int port = Port("echo");
  dir_.Write("services.d/echo.conf",
             "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\nmax_servers = 2000\n");
  LogMark mark = gatehouse_->MarkLog();
  kill(gatehouse_->pid(), SIGHUP);
  ASSERT_TRUE(gatehouse_->WaitForLog("reload refused", mark)) << gatehouse_->Log(mark);
  EXPECT_NE(gatehouse_->Log(mark).find("echo.conf:4: max_servers: services need up to 2041 fds at "
                                       "once, the hard limit is 1024 (ulimit -Hn)"),
            std::string::npos)
      << gatehouse_->Log(mark);
  EXPECT_EQ(Port("echo"), port);
  EXPECT_GT(EchoSeconds(port, 5), 0) << gatehouse_->Log();
  EXPECT_TRUE(StatusReaches(*gatehouse_, "echo", "programs 0 of ", 256, 5)) << gatehouse_->Log();
}

// The "Max open files" soft and hard limits of `pid`, from /proc/PID/limits.
std::string OpenFilesLimits(pid_t pid) {
  std::string limits = ReadFile("/proc/" + std::to_string(pid) + "/limits");
  size_t at = limits.find("Max open files");
  if (at == std::string::npos) return "";
  std::istringstream line(limits.substr(at + 14, limits.find('\n', at) - at - 14));
  std::string soft, hard;
  line >> soft >> hard;
  return soft + ":" + hard;
}

// prlimit lowers the hard limit of a running gatehouse below the soft limit it
// was started with: programs of children started after it still run (with the
// new hard limit as both limits, also where rlimit_nofile asks for more), and a
// reload is checked against the new hard limit.
TEST_F(LimitsTest, AHardLimitLoweredWhileRunningIsReadAgain) {
  GatehouseProcess::Launch launch;
  launch.wrapper = Prlimit(2048, 8192);
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}}, launch));
  rlimit lowered{1024, 1024};
  ASSERT_EQ(prlimit(gatehouse_->pid(), RLIMIT_NOFILE, &lowered, nullptr), 0) << strerror(errno);

  // A changed service: new children, started under the lowered limit.
  dir_.Write("services.d/echo.conf",
             "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\nargs = -u\n"
             "[wide]\nport = 127.0.0.1:0\nexec = /bin/cat\nrlimit_nofile = 4096\n");
  LogMark mark = gatehouse_->MarkLog();
  kill(gatehouse_->pid(), SIGHUP);
  ASSERT_TRUE(gatehouse_->WaitForLog("reloaded: 2 services", mark)) << gatehouse_->Log(mark);
  EXPECT_NE(gatehouse_->Log(mark).find("rlimit_nofile: 4096 is above the hard limit 1024"),
            std::string::npos)
      << gatehouse_->Log(mark);
  for (const std::string service : {"echo", "wide"}) {
    int fd = ConnectTcp("127.0.0.1", Port(service));
    ASSERT_GE(fd, 0) << service;
    pid_t program = ProgramPid(*gatehouse_, fd, service);
    ASSERT_GT(program, 1) << service << "\n" << gatehouse_->Log(mark);
    EXPECT_EQ(OpenFilesLimits(program), "1024:1024") << service;
    ASSERT_EQ(write(fd, "ping\n", 5), 5);
    EXPECT_EQ(ReadUntil(fd, "ping\n", 5), "ping\n") << service << "\n" << gatehouse_->Log(mark);
    close(fd);
  }
  EXPECT_EQ(gatehouse_->Log(mark).find("setrlimit"), std::string::npos) << gatehouse_->Log(mark);

  // 1,000 more connections fit 8,192 but not 1,024: refused, the running config stays.
  dir_.Write("services.d/echo.conf",
             "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\nmax_servers = 1000\n");
  mark = gatehouse_->MarkLog();
  kill(gatehouse_->pid(), SIGHUP);
  ASSERT_TRUE(gatehouse_->WaitForLog("reload refused", mark)) << gatehouse_->Log(mark);
  EXPECT_NE(gatehouse_->Log(mark).find("the hard limit is 1024 (ulimit -Hn)"), std::string::npos)
      << gatehouse_->Log(mark);
}

// --- throttled lines ---

TEST_F(LimitsTest, AFloodOfDeniedClientsGivesABoundedNumberOfLinesThatAddUp) {
  ASSERT_TRUE(Start("", {{"echo.conf",
                          "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"
                          "cidr_allow = 127.0.0.1/32\n"}}));
  int port = Port("echo");
  constexpr int kFlood = 500;
  for (int i = 0; i < kFlood; ++i) {
    int fd = ConnectTcp("127.0.0.1", port, "127.0.0." + std::to_string(2 + i % 2));
    ASSERT_GE(fd, 0) << i;
    close(fd);
  }
  ASSERT_TRUE(StatusReaches(*gatehouse_, "echo", ", denied ", kFlood, 10)) << gatehouse_->Log();
  // The line for each source came at once; the rest are counted until the
  // window ends, or as here, until the listener closes.
  EXPECT_EQ(Count(gatehouse_->Log(), "echo: denied 127.0.0.2:"), 1u) << gatehouse_->Log();
  EXPECT_EQ(Count(gatehouse_->Log(), "echo: denied 127.0.0.3:"), 1u) << gatehouse_->Log();
  ASSERT_EQ(gatehouse_->Stop(SIGTERM), 0);
  std::string log = gatehouse_->Log();
  EXPECT_EQ(Count(log, "echo: denied 127.0.0.2:"), 2u) << log;
  EXPECT_EQ(Count(log, "echo: denied 127.0.0."), 4u) << log;
  EXPECT_EQ(CountThrottled(log, "echo: denied 127.0.0."), static_cast<uint64_t>(kFlood)) << log;
  EXPECT_NE(log.find(" (248 more like this in 10 s)"), std::string::npos) << log;
}

// --- 2,000 idle clients ---

TEST_F(LimitsTest, TwoThousandIdleClientsLeaveTheSupervisorResponsiveAndBounded) {
  ASSERT_TRUE(Start("", {{"idle.conf",
                          "[idle]\nport = 127.0.0.1:0\nexec = /bin/cat\n"
                          "max_servers = 64\nper_source = 32\n"},
                         {"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}}));
  pid_t supervisor = gatehouse_->pid();
  int idle = Port("idle");
  int echo = Port("echo");
  size_t fds_before = OpenFdCount(supervisor);
  size_t sockets_before = SocketFdCount(supervisor);
  long rss_before = RssKb(supervisor);
  long cpu_before = CpuTicks(supervisor);
  double started = Now();

  // 500 from each of four sources, one source after the other: 127.0.0.2 fills
  // its 32 and is refused beyond; 127.0.0.3 takes the other 32 of max_servers;
  // the rest wait in the backlog.
  constexpr int kClients = 2000;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    int fd = ConnectNonBlocking("127.0.0." + std::to_string(2 + i / 500), idle);
    if (fd >= 0) clients.push_back(fd);
  }
  size_t connected = 0;
  for (int fd : clients) connected += Connected(fd, 2) ? 1 : 0;
  double connecting = Now() - started;
  ASSERT_TRUE(StatusReaches(*gatehouse_, "idle", "programs ", 64, 15)) << gatehouse_->Log();

  // While they sit: another service answers at once, the supervisor stays small.
  double worst = 0;
  for (int i = 0; i < 5; ++i) {
    double seconds = EchoSeconds(echo, 5);
    ASSERT_GT(seconds, 0) << "echo did not answer while 2,000 clients sat on idle";
    worst = std::max(worst, seconds);
  }
  size_t fds_during = OpenFdCount(supervisor);
  size_t sockets_during = SocketFdCount(supervisor);
  long rss_during = RssKb(supervisor);
  long cpu_during = CpuTicks(supervisor) - cpu_before;
  std::string log = gatehouse_->Log();
  long programs = StatusNumber(log, "idle", ", programs ");
  long denied = StatusNumber(log, "idle", ", denied ");
  EXPECT_LT(worst, 2.0);
  EXPECT_LT(sockets_during, sockets_before + 64) << "the supervisor holds the clients' fds";
  // Besides: a copy of each running program's stderr pipe (read if its child dies).
  EXPECT_LE(fds_during - sockets_during,
            fds_before - sockets_before + static_cast<size_t>(programs))
      << fds_before << " fds (" << sockets_before << " sockets) -> " << fds_during << " ("
      << sockets_during << ")";
  EXPECT_LT(rss_during, rss_before + 16 * 1024);
  EXPECT_GE(denied, 1) << "no client was refused per_source";
  EXPECT_LE(Count(log, "(per_source)"), 2u) << log;
  EXPECT_NE(log.find("idle: 127.0.0.2:"), std::string::npos);
  EXPECT_NE(log.find("refused: 127.0.0.2 has 32 connections (per_source)"), std::string::npos)
      << log;
  printf(
      "[figures] 2000 idle: %zu connected in %.2f s; good client worst %.3f s; supervisor "
      "fds %zu -> %zu, VmRSS %ld -> %ld kB, CPU %ld ticks; programs %ld; refused per_source "
      "%ld\n",
      connected, connecting, worst, fds_before, fds_during, rss_before, rss_during, cpu_during,
      programs, denied);

  // Cleaned up: every client gone, every program ends, the fds come back.
  for (int fd : clients) close(fd);
  double closing = Now();
  // Each client the supervisor accepts now finds its peer gone; its program ends.
  EXPECT_TRUE(WaitUntil(
      [&] {
        LogMark mark = gatehouse_->MarkLog();
        kill(supervisor, SIGUSR1);
        if (!gatehouse_->WaitForLog("status: idle: ", mark, 2)) return false;
        std::string status = gatehouse_->Log(mark);
        return StatusNumber(status, "idle", ", served ") +
                       StatusNumber(status, "idle", ", denied ") ==
                   static_cast<long>(connected) &&
               StatusNumber(status, "idle", ", programs ") == 0;
      },
      40))
      << gatehouse_->Log();
  EXPECT_TRUE(WaitUntil([&] { return OpenFdCount(supervisor) <= fds_before + 2; }, 5))
      << OpenFdCount(supervisor) << " fds, " << fds_before << " before";
  printf("[figures] 2000 idle: cleaned up in %.2f s; fds %zu; served %ld, denied %ld\n",
         Now() - closing, OpenFdCount(supervisor),
         StatusNumber(gatehouse_->Log(), "idle", ", served "),
         StatusNumber(gatehouse_->Log(), "idle", ", denied "));
  ASSERT_EQ(gatehouse_->Stop(SIGTERM), 0);
  // The per_source lines add up to the refusals.
  EXPECT_EQ(CountThrottled(gatehouse_->Log(), "(per_source)"),
            static_cast<uint64_t>(StatusNumber(gatehouse_->Log(), "idle", ", denied ")));
}

// The issue's own case: one source opens 2,000 idle connections; per_source
// keeps it to 32 programs, so a well-behaved client from another address is
// served at once by the same service.
TEST_F(LimitsTest, TwoThousandIdleFromOneSourceLeaveRoomForAnotherClient) {
  ASSERT_TRUE(Start("", {{"idle.conf",
                          "[idle]\nport = 127.0.0.1:0\nexec = /bin/cat\n"
                          "max_servers = 64\nper_source = 32\n"}}));
  pid_t supervisor = gatehouse_->pid();
  int idle = Port("idle");
  size_t fds_before = OpenFdCount(supervisor);
  long rss_before = RssKb(supervisor);
  long cpu_before = CpuTicks(supervisor);
  std::vector<int> clients;
  for (int i = 0; i < 2000; ++i) {
    int fd = ConnectNonBlocking("127.0.0.2", idle);
    if (fd >= 0) clients.push_back(fd);
  }
  for (int fd : clients) Connected(fd, 2);
  ASSERT_TRUE(StatusReaches(*gatehouse_, "idle", "programs ", 32, 15)) << gatehouse_->Log();

  double start = Now();
  int good = ConnectTcp("127.0.0.1", idle, "127.0.0.3");
  ASSERT_GE(good, 0);
  ASSERT_EQ(write(good, "ping\n", 5), 5);
  std::string reply = ReadUntil(good, "ping\n", 10);
  double latency = Now() - start;
  EXPECT_EQ(reply, "ping\n") << gatehouse_->Log();
  ASSERT_TRUE(StatusReaches(*gatehouse_, "idle", "programs ", 33, 5)) << gatehouse_->Log();
  size_t fds_during = OpenFdCount(supervisor);
  long rss_during = RssKb(supervisor);
  long cpu = CpuTicks(supervisor) - cpu_before;
  EXPECT_LT(fds_during, fds_before + 64) << "the supervisor holds the clients' fds";
  EXPECT_LT(rss_during, rss_before + 16 * 1024);
  printf(
      "[figures] 2000 idle from 127.0.0.2: good client from 127.0.0.3 served in %.3f s; "
      "programs 33 (max_servers 64); supervisor fds %zu -> %zu, VmRSS %ld -> %ld kB, CPU %ld "
      "ticks\n",
      latency, fds_before, fds_during, rss_before, rss_during, cpu);
  close(good);
  for (int fd : clients) close(fd);
  EXPECT_TRUE(StatusReaches(*gatehouse_, "idle", "programs ", 0, 20)) << gatehouse_->Log();
}

// --- a stopped child under nofile 1024 ---

TEST_F(LimitsTest, AStoppedChildAtNofile1024TakesNoFdsOtherServicesNeed) {
  GatehouseProcess::Launch launch;
  launch.wrapper = Prlimit(1024, 1024);
  ASSERT_TRUE(Start("",
                    {{"victim.conf", "[victim]\nport = 127.0.0.1:0\nexec = /bin/cat\n"},
                     {"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}},
                    launch));
  pid_t supervisor = gatehouse_->pid();
  int victim = Port("victim");
  int echo = Port("echo");
  pid_t child = 0;
  for (pid_t pid : ChildPids(supervisor)) {
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (text.find("victim") != std::string::npos) child = pid;
  }
  ASSERT_GT(child, 0);
  size_t fds_before = OpenFdCount(supervisor);
  ASSERT_EQ(kill(child, SIGSTOP), 0);

  // 3,000 clients in at most 12 s, each sending a line and its end; the echo
  // service is asked every 200 clients meanwhile.
  constexpr int kAttempts = 3000;
  std::vector<int> clients;
  std::vector<double> echo_seconds;
  size_t max_fds = 0;
  double started = Now();
  for (int i = 0; i < kAttempts && Now() - started < 12; ++i) {
    int fd = ConnectNonBlocking("127.0.0." + std::to_string(2 + i % 8), victim);
    if (fd >= 0 && Connected(fd, 1) && write(fd, "x\n", 2) == 2) {
      shutdown(fd, SHUT_WR);
      clients.push_back(fd);
    } else if (fd >= 0) {
      close(fd);
    }
    if (i % 200 == 199) {
      echo_seconds.push_back(EchoSeconds(echo, 5));
      max_fds = std::max(max_fds, OpenFdCount(supervisor));
    }
  }
  double connecting = Now() - started;
  max_fds = std::max(max_fds, OpenFdCount(supervisor));
  kill(child, SIGCONT);  // (the watchdog may have ended it: child_stall_timeout)
  double resumed = Now();
  Outcomes outcomes = Collect(clients, 40);
  double collecting = Now() - resumed;
  int served = outcomes.served, refused = outcomes.refused, waited_out = outcomes.waited_out;
  double worst_echo = 0;
  int echo_failed = 0;
  for (double seconds : echo_seconds) {
    if (seconds < 0) ++echo_failed;
    worst_echo = std::max(worst_echo, seconds);
  }
  std::string log = gatehouse_->Log();
  printf(
      "[figures] stopped child at nofile 1024: %zu clients connected in %.2f s; supervisor "
      "fds %zu before, at most %zu; echo asked %zu times, worst %.3f s, failed %d; after "
      "SIGCONT in %.2f s served %d, refused %d, other %d; EMFILE lines %zu; child ended by the "
      "watchdog: %s\n",
      clients.size(), connecting, fds_before, max_fds, echo_seconds.size(), worst_echo, echo_failed,
      collecting, served, refused, waited_out, Count(log, "Too many open files"),
      log.find("victim: child stalled") != std::string::npos ? "yes" : "no");
  EXPECT_GE(clients.size(), 2000u);
  EXPECT_LT(max_fds, 1024u - 64) << "the supervisor came close to its fd limit";
  EXPECT_EQ(echo_failed, 0) << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  EXPECT_LT(worst_echo, 2.0);
  EXPECT_EQ(served + refused, static_cast<int>(clients.size()));
  EXPECT_EQ(waited_out, 0);
  EXPECT_GT(served, 0);
  EXPECT_LE(Count(log, "Too many open files"), 2u) << log;
  EXPECT_TRUE(WaitUntil([&] { return OpenFdCount(supervisor) <= fds_before + 2; }, 10))
      << OpenFdCount(supervisor) << " fds, " << fds_before << " before";
  EXPECT_GT(EchoSeconds(echo, 5), 0);
}

}  // namespace
}  // namespace gatehouse::testing
