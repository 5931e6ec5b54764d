// max_servers and mode = single: beyond the limit clients wait in the listen
// backlog (never accepted and closed), and are served as programs end — also
// across a reload, whose draining child's programs still count.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "common/monotonic_clock.h"
#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// A program that says its connection's number and then echoes until EOF.
constexpr const char* kHold = "exec = /bin/sh\nargs = -c 'echo started; exec cat'\n";

class MaxServersTest : public GatehouseTest {
 protected:
  // Connects and says hello; the program answers "started" once it runs.
  int Open(const std::string& service) {
    int fd = ConnectTcp("127.0.0.1", Port(service));
    EXPECT_GE(fd, 0);
    return fd;
  }
  // Whether the program of `fd` has started within `seconds` (its first line
  // begins with "started").
  static bool Started(int fd, double seconds) {
    return ReadUntil(fd, "\n", seconds).rfind("started", 0) == 0;
  }
  // What `fd` receives until EOF, and whether EOF came within `seconds`.
  static std::string ReadToEnd(int fd, double seconds, bool* ended) {
    double start = MonotonicSeconds();
    std::string got = ReadUntil(fd, std::string("\x01 never sent"), seconds);
    *ended = MonotonicSeconds() - start < seconds;
    return got;
  }
  void TearDown() override {
    for (int fd : open_) close(fd);
  }
  std::vector<int> open_;
};

TEST_F(MaxServersTest, SingleServesOneClientAfterTheOther) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"one.conf", "[one]\nport = 127.0.0.1:0\nmode = single\n" +
                                                         std::string(kHold)}}));
  int first = Open("one");
  ASSERT_TRUE(Started(first, 10));
  int second = Open("one");  // the kernel completes the handshake: it waits in the backlog
  EXPECT_FALSE(Started(second, 1.5)) << "two programs at once in mode single";
  close(first);  // the first program ends: the second is served
  EXPECT_TRUE(Started(second, 10)) << gatehouse_->Log();
  ASSERT_EQ(write(second, "x\n", 2), 2);
  EXPECT_EQ(ReadUntil(second, "x\n"), "x\n");
  close(second);
  EXPECT_EQ(gatehouse_->Log().find("refused"), std::string::npos) << gatehouse_->Log();
}

TEST_F(MaxServersTest, BeyondMaxServersClientsWaitAndAreServedInTurn) {
  ASSERT_TRUE(
      Start("log_level = 3\n",
            {{"two.conf", "[two]\nport = 127.0.0.1:0\nmax_servers = 2\n" + std::string(kHold)}}));
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) fds.push_back(Open("two"));
  std::set<int> running;
  for (int fd : fds) {
    if (Started(fd, running.size() < 2 ? 10 : 1)) running.insert(fd);
  }
  EXPECT_EQ(running.size(), 2u) << gatehouse_->Log();
  kill(gatehouse_->pid(), SIGUSR1);
  EXPECT_TRUE(gatehouse_->WaitForLog(", programs 2 of 2, served 2,")) << gatehouse_->Log();
  // Each one that ends lets one more in, until all five have been served.
  size_t served = running.size();
  for (int round = 0; round < 5 && served < fds.size(); ++round) {
    int done = *running.begin();
    running.erase(running.begin());
    close(done);
    for (int fd : fds) {
      if (fd != done && running.count(fd) == 0 && fd >= 0 && Started(fd, 0.3)) {
        running.insert(fd);
        ++served;
      }
    }
  }
  EXPECT_EQ(served, fds.size()) << gatehouse_->Log();
  for (int fd : running) close(fd);
  EXPECT_EQ(gatehouse_->Log().find("refused"), std::string::npos) << gatehouse_->Log();
}

// USR1's count of everything the service's programs run: "programs 0 of 256"
// hid 1,500 processes the programs had forked. A program forks 50 children and
// waits: 1 program, 51 processes. Once it ends, its children run on (in the
// service's PID namespace, re-parented to its init) and are still counted.
TEST_F(MaxServersTest, StatusCountsTheProcessesTheProgramsStarted) {
  ASSERT_TRUE(Start("", {{"forks.conf",
                          "[forks]\nport = 127.0.0.1:0\nexec = /bin/sh\n"
                          "args = -c 'i=0; while [ $i -lt 50 ]; do sleep 30 & i=$((i+1)); done; "
                          "echo started; read line'\n"}}));
  auto status_has = [&](const std::string& text) {
    return WaitUntil([&] {
      LogMark mark = gatehouse_->MarkLog();
      kill(gatehouse_->pid(), SIGUSR1);
      return gatehouse_->WaitForLog("status: forks:", mark, 2) &&
             gatehouse_->Log(mark).find(text) != std::string::npos;
    });
  };
  EXPECT_TRUE(status_has(", programs 0 of 256,")) << gatehouse_->Log();
  EXPECT_TRUE(status_has(", processes 0\n")) << gatehouse_->Log();
  int fd = Open("forks");
  ASSERT_TRUE(Started(fd, 10)) << gatehouse_->Log();
  EXPECT_TRUE(status_has(", programs 1 of 256,")) << gatehouse_->Log();
  EXPECT_TRUE(status_has(", processes 51\n")) << gatehouse_->Log();
  if (!IsRoot()) return;  // without a PID namespace the orphans are the supervisor's
  close(fd);
  EXPECT_TRUE(status_has(", programs 0 of 256,")) << gatehouse_->Log();
  EXPECT_TRUE(status_has(", processes 50\n")) << gatehouse_->Log();
}

TEST_F(MaxServersTest, AReloadCannotDoubleSingle) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"one.conf", "[one]\nport = 127.0.0.1:0\nmode = single\n" +
                                                         std::string(kHold)}}));
  int first = Open("one");
  ASSERT_TRUE(Started(first, 10));
  // A changed program: a new child, while the old one's program still runs.
  dir_.Write("services.d/one.conf",
             "[one]\nport = 127.0.0.1:0\nmode = single\nexec = /bin/sh\n"
             "args = -c 'echo started v2; exec cat'\n");
  LogMark mark = gatehouse_->MarkLog();
  kill(gatehouse_->pid(), SIGHUP);
  ASSERT_TRUE(gatehouse_->WaitForLog("reloaded:", mark)) << gatehouse_->Log();
  ASSERT_TRUE(gatehouse_->WaitForLog("one: ready", mark)) << gatehouse_->Log();
  int second = Open("one");
  EXPECT_FALSE(Started(second, 1.5)) << "the new child ran a program beside the old one's";
  close(first);
  EXPECT_EQ(ReadUntil(second, "\n", 10), "started v2\n") << gatehouse_->Log();
  close(second);
}

// cps = 3 2: the fourth connection within a second pauses the service for 2 s;
// the clients after it wait in the backlog, none is refused, counts stay exact.
TEST_F(MaxServersTest, CpsPausesTheServiceAndClientsWait) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"rate.conf", "[rate]\nport = 127.0.0.1:0\ncps = 3 2\n" +
                                                          std::string(kHold)}}));
  std::vector<int> fds;
  for (int i = 0; i < 6; ++i) fds.push_back(Open("rate"));
  int at_once = 0;
  for (int fd : fds) {
    if (Started(fd, at_once < 4 ? 10 : 0.5)) ++at_once;
  }
  EXPECT_EQ(at_once, 4) << gatehouse_->Log();
  EXPECT_TRUE(gatehouse_->WaitForLog("rate: more than 3 connections in a second; pausing for 2 s"))
      << gatehouse_->Log();
  kill(gatehouse_->pid(), SIGUSR1);
  EXPECT_TRUE(gatehouse_->WaitForLog("ready, paused (cps), programs 4 of 256, served 4,"))
      << gatehouse_->Log();
  // After the pause the other two are served.
  int later = 0;
  for (size_t i = 4; i < fds.size(); ++i) {
    if (Started(fds[i], 5)) ++later;
  }
  EXPECT_EQ(later, 2) << gatehouse_->Log();
  for (int fd : fds) close(fd);
  EXPECT_EQ(gatehouse_->Log().find("refused"), std::string::npos) << gatehouse_->Log();
}

// per_source = 2: a third connection from one address is closed at once (logged
// once, counted as denied); other addresses are served; a freed place is reused.
TEST_F(MaxServersTest, PerSourceLimitsOneAddressOnly) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"src.conf", "[src]\nport = 127.0.0.1:0\nper_source = 2\n" +
                                                         std::string(kHold)}}));
  int port = Port("src");
  std::vector<int> from2;
  for (int i = 0; i < 2; ++i) {
    from2.push_back(ConnectTcp("127.0.0.1", port, "127.0.0.2"));
    ASSERT_TRUE(Started(from2.back(), 10)) << gatehouse_->Log();
  }
  int third = ConnectTcp("127.0.0.1", port, "127.0.0.2");
  ASSERT_GE(third, 0);
  EXPECT_EQ(ReadUntil(third, "\n", 10), "") << "a third connection from one address ran";
  close(third);
  EXPECT_TRUE(gatehouse_->WaitForLog("refused: 127.0.0.2 has 2 connections (per_source)"))
      << gatehouse_->Log();
  int other = ConnectTcp("127.0.0.1", port, "127.0.0.3");
  EXPECT_TRUE(Started(other, 10)) << "another address must be served";
  close(other);
  close(from2[0]);
  EXPECT_TRUE(WaitUntil(
      [&] {
        int again = ConnectTcp("127.0.0.1", port, "127.0.0.2");
        bool started = Started(again, 2);
        if (started)
          from2[0] = again;
        else
          close(again);
        return started;
      },
      10))
      << "the freed place was not given back";
  // Counted as denied (the retries above may have been refused too, while the
  // freed place was still being reported).
  kill(gatehouse_->pid(), SIGUSR1);
  ASSERT_TRUE(gatehouse_->WaitForLog("status: src:")) << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  size_t denied = log.find(", denied ", log.find("status: src:"));
  ASSERT_NE(denied, std::string::npos) << log;
  EXPECT_GE(std::atoi(log.c_str() + denied + 9), 1) << log;
  for (int fd : from2) close(fd);
}

// max_servers_action = reject: at the limit the service keeps accepting, and each
// extra client reads busy_message and EOF at once; one log line per 10 s says how
// many it stood for, and USR1 counts them all as busy.
TEST_F(MaxServersTest, RejectWritesBusyMessageAndCloses) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"two.conf",
                      "[two]\nport = 127.0.0.1:0\nmax_servers = 2\n"
                      "max_servers_action = reject\nbusy_message = busy, try later\\r\\n\n" +
                          std::string(kHold)}}));
  std::vector<int> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(Open("two"));
    ASSERT_TRUE(Started(held.back(), 10)) << gatehouse_->Log();
  }
  for (int i = 0; i < 2; ++i) {
    int extra = Open("two");
    bool ended = false;
    EXPECT_EQ(ReadToEnd(extra, 5, &ended), "busy, try later\r\n") << gatehouse_->Log();
    EXPECT_TRUE(ended) << "the rejected client was not closed";
    close(extra);
  }
  EXPECT_TRUE(gatehouse_->WaitForLog("rejected: 2 programs running (max_servers_action = reject)"))
      << gatehouse_->Log();
  kill(gatehouse_->pid(), SIGUSR1);
  EXPECT_TRUE(
      gatehouse_->WaitForLog(", programs 2 of 2, served 2, denied 0, failed 0, "
                             "exit_nonzero 0, busy 2"))
      << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  size_t first = log.find(" rejected: ");
  EXPECT_EQ(log.find(" rejected: ", first + 1), std::string::npos)
      << "the second rejection within 10 s was logged too:\n"
      << log;
  // The held programs still work, and a freed place is taken again.
  close(held[0]);
  EXPECT_TRUE(WaitUntil(
      [&] {
        int again = Open("two");
        bool started = Started(again, 2);
        if (started)
          held[0] = again;
        else
          close(again);
        return started;
      },
      10))
      << gatehouse_->Log();
  for (int fd : held) close(fd);
}

// banner: written by the child before the program starts, so it comes first.
TEST_F(MaxServersTest, BannerComesBeforeTheProgramsOutput) {
  ASSERT_TRUE(Start(
      "log_level = 3\n",
      {{"ban.conf", "[ban]\nport = 127.0.0.1:0\nbanner = welcome\\r\\n\n" + std::string(kHold)}}));
  int fd = Open("ban");
  EXPECT_EQ(ReadUntil(fd, "started\n", 10), "welcome\r\nstarted\n") << gatehouse_->Log();
  close(fd);
}

// banner = @file: the file's text, read when the config is loaded (relative to
// the main file's folder), several lines as they are.
TEST_F(MaxServersTest, BannerFromAFile) {
  dir_.Write("motd.txt", "line one\nline two\n");
  ASSERT_TRUE(Start(
      "log_level = 3\n",
      {{"ban.conf", "[ban]\nport = 127.0.0.1:0\nbanner = @motd.txt\n" + std::string(kHold)}}));
  dir_.Write("motd.txt", "changed after loading\n");
  int fd = Open("ban");
  EXPECT_EQ(ReadUntil(fd, "started\n", 10), "line one\nline two\nstarted\n") << gatehouse_->Log();
  close(fd);
}

// banner_fail: a client the access rules refuse reads it, then EOF; logged as denied.
TEST_F(MaxServersTest, BannerFailGoesToADeniedClient) {
  dir_.Write("denied.txt", "not for you\n");
  ASSERT_TRUE(Start("log_level = 3\n", {{"deny.conf",
                                         "[deny]\nport = 127.0.0.1:0\ncidr_allow = 127.0.0.3/32\n"
                                         "banner_fail = @denied.txt\n" +
                                             std::string(kHold)}}));
  int fd = ConnectTcp("127.0.0.1", Port("deny"), "127.0.0.2");
  ASSERT_GE(fd, 0);
  bool ended = false;
  EXPECT_EQ(ReadToEnd(fd, 5, &ended), "not for you\n") << gatehouse_->Log();
  EXPECT_TRUE(ended) << "the denied client was not closed";
  close(fd);
  EXPECT_TRUE(gatehouse_->WaitForLog("deny: denied 127.0.0.2")) << gatehouse_->Log();
  int admitted = ConnectTcp("127.0.0.1", Port("deny"), "127.0.0.3");
  EXPECT_TRUE(Started(admitted, 10)) << "banner_fail reached an admitted client";
  close(admitted);
}

// banner_fail also goes to a client over per_source.
TEST_F(MaxServersTest, BannerFailGoesToAClientOverPerSource) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"src.conf",
                                         "[src]\nport = 127.0.0.1:0\nper_source = 1\n"
                                         "banner_fail = too many from you\\n\n" +
                                             std::string(kHold)}}));
  int first = Open("src");
  ASSERT_TRUE(Started(first, 10)) << gatehouse_->Log();
  int second = Open("src");
  bool ended = false;
  EXPECT_EQ(ReadToEnd(second, 5, &ended), "too many from you\n") << gatehouse_->Log();
  EXPECT_TRUE(ended);
  close(second);
  close(first);
}

}  // namespace
}  // namespace gatehouse::testing
