// mode = builtin end to end: each inetd built-in with its real client (nc,
// socat), served inside gatehouse-child without a process per connection, its
// bounds (a client that never reads, idle timeout, max_servers), and the child's
// privileges.
#include <dirent.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

constexpr const char* kNoCapabilities = "0000000000000000";

std::string BuiltinService(const std::string& name, const std::string& builtin,
                           const std::string& extra = "", const std::string& port = "127.0.0.1:0") {
  return "[" + name + "]\nport = " + port + "\nmode = builtin\nbuiltin = " + builtin + "\n" + extra;
}

// The chargen pattern, computed here: line L starts at ' ' + L mod 95.
std::string ExpectedChargen(size_t lines) {
  std::string text;
  for (size_t line = 0; line < lines; ++line) {
    for (size_t column = 0; column < 72; ++column) text += char(' ' + (line + column) % 95);
    text += "\r\n";
  }
  return text;
}

// The kilobytes of VmRSS ("1234 kB").
long RssKb(pid_t pid) { return std::atol(ProcStatusField(pid, "VmRSS").c_str()); }

// Reads exactly `size` bytes (or until EOF, an error or the socket's timeout).
std::string ReadBytes(int fd, size_t size) {
  std::string data;
  char buffer[65536];
  while (data.size() < size) {
    ssize_t n = read(fd, buffer, std::min(sizeof buffer, size - data.size()));
    if (n <= 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  return data;
}

// Whether the peer closed: reads (and drops) until EOF, within the socket's timeout.
bool ReadsToEof(int fd) {
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) {
  }
  return n == 0;
}

class BuiltinTest : public GatehouseTest {
 protected:
  void TearDown() override {
    for (int fd : connections_) close(fd);
  }
  std::string PortOf(const std::string& service) { return std::to_string(Port(service)); }
  // The process that serves `service`: the child the supervisor names in its
  // "ready" line (outside the PID namespace it runs the service in).
  pid_t ServingProcess(const std::string& service) {
    std::smatch match;
    std::string log = gatehouse_->Log();
    std::regex ready(service + ": ready \\(child pid ([0-9]+)\\)");
    if (!std::regex_search(log, match, ready)) return 0;
    return std::stoi(match[1]);
  }
  int Connect(const std::string& service, const std::string& ip = "127.0.0.1") {
    int fd = ConnectTcp(ip, Port(service, ip == "::1" ? "6" : "4"));
    if (fd >= 0) connections_.push_back(fd);
    return fd;
  }
  std::vector<int> connections_;
};

TEST_F(BuiltinTest, EchoGives200KilobytesBackToSocat) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"echo.conf", BuiltinService("echo", "echo")}}));
  std::string payload;
  for (int i = 0; i < 20000; ++i) payload += "line " + std::to_string(i) + "\n";
  ASSERT_GT(payload.size(), 200000u);
  CommandResult result =
      RunCommand({"socat", "-t", "5", "-", "TCP:127.0.0.1:" + PortOf("echo")}, payload);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.size(), payload.size());
  EXPECT_TRUE(result.out == payload);
  // Served in the child itself, reported as such, with a clean end.
  EXPECT_TRUE(gatehouse_->WaitForLog("echo: exit 127.0.0.1:")) << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("echo: start 127.0.0.1:"), std::string::npos);
  EXPECT_NE(gatehouse_->Log().find(" in-process exit 0 after "), std::string::npos)
      << gatehouse_->Log();
}

TEST_F(BuiltinTest, EchoOverIpv6AndUnixSockets) {
  TempDir short_dir("/tmp");  // sun_path holds 107 bytes
  std::string path = short_dir.path() + "/echo.sock";
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"echo.conf", BuiltinService("echo6", "echo", "", "[::1]:0") +
                                       BuiltinService("echounix", "echo", "", path + "|unix")}}));
  CommandResult v6 = RunCommand({"nc", "-N", "::1", std::to_string(Port("echo6", "6"))}, "v6\n");
  EXPECT_EQ(v6.out, "v6\n") << v6.err << gatehouse_->Log();
  CommandResult unix_socket = RunCommand({"nc", "-N", "-U", path}, "over unix\n");
  EXPECT_EQ(unix_socket.out, "over unix\n") << unix_socket.err;
  EXPECT_TRUE(gatehouse_->WaitForLog("echo6: exit [::1]:")) << gatehouse_->Log();
}

TEST_F(BuiltinTest, DiscardTakesEverythingAndAnswersNothing) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"discard.conf", BuiltinService("discard", "discard")}}));
  std::string megabyte(1 << 20, 'x');
  CommandResult result = RunCommand({"nc", "-N", "127.0.0.1", PortOf("discard")}, megabyte);
  EXPECT_EQ(result.exit_code, 0) << result.err;  // connected, sent all, saw the close
  EXPECT_EQ(result.out, "");
  // The server read to the end (the client's close) and then closed: a clean exit.
  EXPECT_TRUE(gatehouse_->WaitForLog("discard: exit 127.0.0.1:")) << gatehouse_->Log();
}

TEST_F(BuiltinTest, DaytimeIsOneCtimeLineOfNowThenClose) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"daytime.conf", BuiltinService("daytime", "daytime")}}));
  time_t before = time(nullptr);
  CommandResult result = RunCommand({"nc", "-d", "127.0.0.1", PortOf("daytime")}, "", 5);
  EXPECT_FALSE(result.timed_out) << "daytime did not close";
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::regex line(
      "(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
      "[ 123][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [0-9]{4}\r\n");
  ASSERT_TRUE(std::regex_match(result.out, line)) << "[" << result.out << "]";
  // The time it says is now, in the time zone gatehouse was started in (ours).
  tm told{};
  ASSERT_NE(strptime(result.out.c_str(), "%a %b %e %H:%M:%S %Y", &told), nullptr);
  told.tm_isdst = -1;
  time_t said = mktime(&told);
  EXPECT_GE(said, before - 5);
  EXPECT_LE(said, time(nullptr) + 5);
}

TEST_F(BuiltinTest, TimeIsFourBytesOfNowSince1900ThenClose) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"time.conf", BuiltinService("time", "time")}}));
  // rdate's way: connect, read 4 bytes, the server closes.
  CommandResult result = RunCommand({"socat", "-u", "TCP:127.0.0.1:" + PortOf("time"), "-"}, "", 5);
  EXPECT_FALSE(result.timed_out) << "time did not close";
  ASSERT_EQ(result.out.size(), 4u) << result.err;
  uint32_t since_1900 = 0;
  for (unsigned char byte : result.out) since_1900 = since_1900 << 8 | byte;
  int64_t now_since_1900 = static_cast<int64_t>(time(nullptr)) + 2208988800LL;
  EXPECT_LE(std::llabs(static_cast<int64_t>(since_1900) - (now_since_1900 & 0xFFFFFFFF)), 5)
      << since_1900;
}

TEST_F(BuiltinTest, ChargenSendsTheRotatingLines) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"chargen.conf", BuiltinService("chargen", "chargen")}}));
  // 1000 lines through socat into head, which then closes the pipe: socat ends,
  // and so does the connection.
  size_t bytes = 1000 * 74;
  CommandResult result = RunCommand(
      {"sh", "-c",
       "socat -u TCP:127.0.0.1:" + PortOf("chargen") + " - | head -c " + std::to_string(bytes)},
      "", 10);
  ASSERT_EQ(result.out.size(), bytes) << result.err;
  EXPECT_TRUE(result.out == ExpectedChargen(1000));
  EXPECT_TRUE(gatehouse_->WaitForLog("chargen: exit 127.0.0.1:")) << gatehouse_->Log();
}

// An echo client that sends and does not read: the child stops reading it once
// its buffer is full (the bytes wait in the kernel), and goes on when the client
// reads; every byte comes back in order, and the child's memory stays put.
TEST_F(BuiltinTest, CheckAndStatusNameTheBuiltinAndNoProgram) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"daytime.conf", BuiltinService("daytime", "daytime")}}));
  CommandResult check = RunCommand({Gatehouse(), "--check", "--config", config_});
  EXPECT_NE(check.out.find("mode     builtin (daytime)"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("exec     none: served in gatehouse-child (builtin daytime)"),
            std::string::npos)
      << check.out;
  EXPECT_EQ(check.out.find("argv"), std::string::npos) << check.out;
  LogMark mark = gatehouse_->MarkLog();
  ASSERT_EQ(kill(gatehouse_->pid(), SIGUSR1), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("status: daytime: ", mark));
  EXPECT_NE(gatehouse_->Log(mark).find("status: daytime: mode builtin (daytime), "),
            std::string::npos)
      << gatehouse_->Log(mark);
}

TEST_F(BuiltinTest, EchoStopsReadingAClientThatDoesNotReadAndResumes) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"echo.conf", BuiltinService("echo", "echo")}}));
  pid_t serving = ServingProcess("echo");
  ASSERT_GT(serving, 1) << gatehouse_->Log();
  long rss_before = RssKb(serving);
  int fd = Connect("echo");
  ASSERT_GE(fd, 0);
  std::string payload;
  // More than the kernel buffers on both ends and both ways hold (several MiB each).
  for (int i = 0; payload.size() < 48u << 20; ++i) payload += std::to_string(i) + "\n";
  // Write without reading until the socket takes no more: the child has stopped reading.
  size_t written = 0;
  for (;;) {
    ssize_t n = send(fd, payload.data() + written, payload.size() - written, MSG_DONTWAIT);
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      usleep(200 * 1000);  // a moment for the child to take more, if it still reads
      n = send(fd, payload.data() + written, payload.size() - written, MSG_DONTWAIT);
      if (n > 0) {
        written += static_cast<size_t>(n);
        continue;
      }
    }
    break;
  }
  ASSERT_LT(written, payload.size()) << "the child never stopped reading";
  long rss_stalled = RssKb(serving);
  printf("echo child VmRSS: %ld kB before, %ld kB with %zu bytes sent and not read\n", rss_before,
         rss_stalled, written);
  EXPECT_LT(rss_stalled - rss_before, 1024);
  // Now read: the child resumes, and the rest can be sent as the echo drains.
  std::thread writer([&] {
    size_t at = written;
    while (at < payload.size()) {
      ssize_t n = write(fd, payload.data() + at, payload.size() - at);
      if (n <= 0) return;
      at += static_cast<size_t>(n);
    }
  });
  std::string echoed = ReadBytes(fd, payload.size());
  writer.join();
  EXPECT_EQ(echoed.size(), payload.size());
  EXPECT_TRUE(echoed == payload);
}

// A chargen client that never reads fills its socket and stalls; the child's loop
// goes on: another chargen client and the echo service are served, and the
// child's memory stays where it was (each connection has one 16 KiB buffer).
TEST_F(BuiltinTest, ChargenClientsThatNeverReadStallOnlyThemselves) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"chargen.conf", BuiltinService("chargen", "chargen")},
                                        {"echo.conf", BuiltinService("echo", "echo")}}));
  pid_t serving = ServingProcess("chargen");
  ASSERT_GT(serving, 1) << gatehouse_->Log();
  // A first connection, read a little, so the child has served once before we measure.
  int warm = Connect("chargen");
  ASSERT_EQ(ReadBytes(warm, 74), ExpectedChargen(1));
  long rss_before = RssKb(serving);
  ASSERT_GT(rss_before, 0);

  constexpr int kStalled = 20;
  for (int i = 0; i < kStalled; ++i) {
    int fd = Connect("chargen");
    ASSERT_GE(fd, 0);
    int small = 4096;  // a small receive buffer: it is full the sooner
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  // Every stalled connection has been handed over and filled what the kernel takes.
  ASSERT_TRUE(WaitUntil([&] {
    std::string log = gatehouse_->Log();
    size_t starts = 0;
    for (size_t at = 0; (at = log.find("chargen: start ", at)) != std::string::npos; ++at) ++starts;
    return starts == kStalled + 1;
  })) << gatehouse_->Log();
  sleep(1);  // the kernel's buffers fill within milliseconds; give them a second

  // Served while the others stall: a second reading chargen client...
  int reader = Connect("chargen");
  std::string lines = ReadBytes(reader, 2000 * 74);
  EXPECT_TRUE(lines == ExpectedChargen(2000)) << lines.size();
  // ...and the echo service of the same gatehouse.
  CommandResult echo = RunCommand({"nc", "-N", "127.0.0.1", PortOf("echo")}, "still here\n");
  EXPECT_EQ(echo.out, "still here\n") << echo.err;

  long rss_after = RssKb(serving);
  printf("chargen child VmRSS: %ld kB before, %ld kB with %d stalled clients and one reading\n",
         rss_before, rss_after, kStalled);
  // 21 buffers of 16 KiB are 336 KiB; 2 MiB leaves room for the allocator.
  if (!SkipsUnderAsan("chargen child VmRSS growth under 2 MiB")) {
    EXPECT_LT(rss_after - rss_before, 2048) << rss_before << " -> " << rss_after;
  }
  // Nothing of it ended: the stalled connections are still open, not dropped.
  EXPECT_EQ(gatehouse_->Log().find("chargen: exit 127.0.0.1:"), std::string::npos)
      << gatehouse_->Log();
}

// timeout = N closes a built-in connection that moved no byte for N seconds: a
// chargen client that never reads, an echo client that never sends.
TEST_F(BuiltinTest, TimeoutClosesConnectionsWithoutProgress) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"chargen.conf", BuiltinService("chargen", "chargen", "timeout = 1\n")},
                     {"echo.conf", BuiltinService("echo", "echo", "timeout = 1\n")}}));
  int stalled = Connect("chargen");
  int silent = Connect("echo");
  int busy = Connect("echo");
  ASSERT_GE(stalled, 0);
  ASSERT_GE(silent, 0);
  ASSERT_GE(busy, 0);
  // The busy client keeps making progress for 2.5 s: it stays open.
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(write(busy, "tick\n", 5), 5);
    EXPECT_EQ(ReadBytes(busy, 5), "tick\n");
    usleep(500 * 1000);
  }
  EXPECT_TRUE(ReadsToEof(silent));  // closed by gatehouse, within the 10 s read timeout
  EXPECT_TRUE(ReadsToEof(stalled));
  EXPECT_TRUE(gatehouse_->WaitForLog("idle past its timeout of 1 s; closed")) << gatehouse_->Log();
  ASSERT_EQ(write(busy, "tock\n", 5), 5);
  EXPECT_EQ(ReadBytes(busy, 5), "tock\n");
}

// 200 idle echo connections at once: all served by the one child, which starts no
// process and no thread for them.
TEST_F(BuiltinTest, TwoHundredConnectionsAtOnceInOneProcess) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"echo.conf", BuiltinService("echo", "echo")}}));
  pid_t serving = ServingProcess("echo");
  ASSERT_GT(serving, 1) << gatehouse_->Log();
  constexpr int kConnections = 200;
  for (int i = 0; i < kConnections; ++i) ASSERT_GE(Connect("echo"), 0) << i;
  for (int i = 0; i < kConnections; ++i) {
    std::string line = "connection " + std::to_string(i) + "\n";
    ASSERT_EQ(write(connections_[i], line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }
  for (int i = 0; i < kConnections; ++i) {
    std::string line = "connection " + std::to_string(i) + "\n";
    ASSERT_EQ(ReadBytes(connections_[i], line.size()), line) << i;
  }
  // All 200 open at once, served by one single-threaded process without children.
  EXPECT_EQ(ProcStatusField(serving, "Threads"), "1");
  EXPECT_TRUE(ProgramsOf(serving).empty());
  size_t sockets = 0;
  for (const std::string& fd : OpenFds(serving)) {
    if (Link("/proc/" + std::to_string(serving) + "/fd/" + fd).rfind("socket:", 0) == 0) ++sockets;
  }
  EXPECT_GE(sockets, static_cast<size_t>(kConnections));
  printf("echo child with %d connections: VmRSS %ld kB, %zu sockets\n", kConnections,
         RssKb(serving), sockets);
}

// Each connection counts as one of max_servers while it is served, as a program
// would: the third client waits in the backlog until one of two ends.
TEST_F(BuiltinTest, MaxServersCountsBuiltinConnections) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"echo.conf", BuiltinService("echo", "echo", "max_servers = 2\n")}}));
  int first = Connect("echo");
  int second = Connect("echo");
  for (int fd : {first, second}) {
    ASSERT_EQ(write(fd, "x\n", 2), 2);
    ASSERT_EQ(ReadBytes(fd, 2), "x\n");
  }
  int third = Connect("echo");  // the kernel completes it; gatehouse does not accept it yet
  ASSERT_GE(third, 0);
  ASSERT_EQ(write(third, "y\n", 2), 2);
  timeval short_wait{1, 0};
  setsockopt(third, SOL_SOCKET, SO_RCVTIMEO, &short_wait, sizeof short_wait);
  EXPECT_EQ(ReadBytes(third, 2), "") << "served beyond max_servers = 2";
  shutdown(first, SHUT_WR);
  EXPECT_TRUE(ReadsToEof(first));
  timeval long_wait{10, 0};
  setsockopt(third, SOL_SOCKET, SO_RCVTIMEO, &long_wait, sizeof long_wait);
  EXPECT_EQ(ReadBytes(third, 2), "y\n") << gatehouse_->Log();
}

// The privilege test for builtin mode: no program runs, so the child serving
// the built-in is what must be dropped.
TEST_F(BuiltinTest, TheServingChildIsDroppedAndChrootedWithOnlyItsOwnFds) {
  if (!IsRoot()) GTEST_SKIP() << "privilege drops need root";
  std::string jail = dir_.path() + "/jail";
  mkdir(jail.c_str(), 0755);  // empty: a built-in needs nothing inside
  char real[PATH_MAX];
  ASSERT_NE(realpath(jail.c_str(), real), nullptr);
  jail = real;
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"echo.conf", BuiltinService("echo", "echo", "chroot = " + jail + "\n")}}));
  int connection = Connect("echo");
  ASSERT_EQ(write(connection, "ping\n", 5), 5);
  ASSERT_EQ(ReadBytes(connection, 5), "ping\n");
  pid_t serving = ServingProcess("echo");
  ASSERT_GT(serving, 1) << gatehouse_->Log();

  std::string uid = CheckedUid(config_);  // the service's own, as --check names it
  ASSERT_FALSE(uid.empty());
  std::string ids = uid + "\t" + uid + "\t" + uid + "\t" + uid;
  EXPECT_EQ(ProcStatusField(serving, "Uid"), ids);
  EXPECT_EQ(ProcStatusField(serving, "Gid"), ids);
  for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(ProcStatusField(serving, caps), kNoCapabilities) << caps;
  }
  EXPECT_EQ(ProcStatusField(serving, "NoNewPrivs"), "1");
  struct stat root {
  }, want{};
  ASSERT_EQ(stat(("/proc/" + std::to_string(serving) + "/root/").c_str(), &root), 0);
  ASSERT_EQ(stat(jail.c_str(), &want), 0);
  EXPECT_TRUE(root.st_dev == want.st_dev && root.st_ino == want.st_ino) << "not in the chroot";

  // Its fds: 0-2 as gatehouse started it, 3 the control socket, libevent's own
  // (epoll, the signal pipe pair, the TERM signalfd), the link to its namespace's
  // keeper, and the one client connection.
  std::string proc = "/proc/" + std::to_string(serving) + "/fd/";
  std::vector<std::string> described;
  size_t sockets = 0, other = 0;
  for (const std::string& fd : OpenFds(serving)) {
    std::string target = Link(proc + fd);
    described.push_back(fd + " -> " + target);
    int number = std::stoi(fd);
    if (number <= 2) continue;
    if (target.rfind("socket:", 0) == 0) {
      ++sockets;
    } else if (target.rfind("anon_inode:", 0) == 0 || target.rfind("pipe:", 0) == 0) {
      ++other;  // epoll, signalfd, the signal pipe: the loop's own
    } else {
      ADD_FAILURE() << "unexpected fd " << fd << " -> " << target;
    }
  }
  std::string listing;
  for (const std::string& line : described) listing += "  " + line + "\n";
  printf("fds of the serving child %d:\n%s", serving, listing.c_str());
  // The control socket and the one connection, and with a namespace the link to its keeper.
  EXPECT_EQ(sockets, KeeperOf(serving) > 0 ? 3u : 2u) << listing;
  EXPECT_LE(other, 4u) << listing;
}

}  // namespace
}  // namespace gatehouse::testing
