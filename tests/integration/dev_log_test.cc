// dev_log: a service's programs get a /dev/log of their own, and what they send
// there is in gatehouse's log as "SERVICE[PID]: text", header stripped, bounded.
// gatehouse runs under PrivateDevLogWrapper: its /dev/log is the test's socat,
// playing the host's syslog daemon, so a line that escapes the service's own
// /dev/log is seen there.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/monotonic_clock.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// Sends its arguments to /dev/log, one datagram each, as a program's syslog() would.
constexpr const char* kSender =
    "import socket, sys\n"
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
    "for text in sys.argv[1:]:\n"
    "    s.sendto(text.encode(), '/dev/log')\n"
    "print('sent', flush=True)\n";

// Sends COUNT datagrams as fast as it can (the socket blocks if the reader lags).
constexpr const char* kFlood =
    "import socket, sys\n"
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
    "for i in range(int(sys.argv[1])):\n"
    "    s.sendto(b'<13>Dec  8 01:00:00 flood[7]: line %d' % i, '/dev/log')\n"
    "print('flooded', flush=True)\n";

class DevLogTest : public GatehouseTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "a service's /dev/log lives in its mount namespace: needs root";
    sender_ = scripts_.Write("send.py", kSender);
    flood_ = scripts_.Write("flood.py", kFlood);
  }
  ::testing::AssertionResult StartService(const std::string& body) {
    GatehouseProcess::Launch launch;
    launch.wrapper = PrivateDevLogWrapper(dir_.path());
    return Start("log_level = 3\n", {{"svc.conf", "[svc]\nport = 127.0.0.1:0\n" + body}}, launch);
  }
  std::string HostSyslog() const { return ReadFile(dir_.path() + "/syslog.txt"); }
  // Connects, waits for the program's last word, returns the program's host pid.
  pid_t RunOnce(const std::string& last_word) {
    int fd = ConnectTcp("127.0.0.1", Port("svc"));
    EXPECT_GE(fd, 0);
    if (fd < 0) return 0;
    std::string said = ReadUntil(fd, last_word, 30);
    EXPECT_NE(said.find(last_word), std::string::npos) << said << gatehouse_->Log();
    pid_t pid = ProgramPid(*gatehouse_, fd, "svc");
    close(fd);
    return pid;
  }

  TempDir scripts_{"/tmp"};
  std::string sender_, flood_;
};

TEST_F(DevLogTest, AProgramsSyslogLineIsLoggedWithTheServiceAndItsPid) {
  ASSERT_TRUE(StartService("exec = /usr/bin/python3\nargs = " + sender_ +
                           " \"<13>Dec  8 01:00:00 prog[1]: hello\""
                           " \"<14>1 2026-12-08T01:00:00Z host app 42 - - five four two\"\n"));
  pid_t pid = RunOnce("sent");
  ASSERT_GT(pid, 0) << gatehouse_->Log();
  // The host pid (the program's "start" line), not the namespace's; the header gone.
  std::string label = "svc[" + std::to_string(pid) + "]: ";
  EXPECT_TRUE(gatehouse_->WaitForLog(label + "prog[1]: hello")) << gatehouse_->Log();
  EXPECT_TRUE(gatehouse_->WaitForLog(label + "app[42]: five four two")) << gatehouse_->Log();
  EXPECT_EQ(HostSyslog().find("hello"), std::string::npos) << HostSyslog();
}

TEST_F(DevLogTest, DevLogNoLeavesTheHostsSyslog) {
  // As root: the test's syslog socket is root's, 0755.
  ASSERT_TRUE(StartService(
      "dev_log = no\nuser = root\ngroup = root\nexec = /usr/bin/python3\nargs = " + sender_ +
      " \"<13>Dec  8 01:00:00 prog[1]: to the host\"\n"));
  RunOnce("sent");
  EXPECT_TRUE(WaitUntil([&] { return HostSyslog().find("to the host") != std::string::npos; }))
      << HostSyslog() << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Log().find("to the host"), std::string::npos) << gatehouse_->Log();
}

// A program that floods its /dev/log is never held up, and the log takes a
// bounded share: 200 a second in the child, 100 lines a second per service.
TEST_F(DevLogTest, AFloodIsDroppedAndCountedNotLoggedNorBlocking) {
  constexpr int kSent = 20000;
  ASSERT_TRUE(StartService("exec = /usr/bin/python3\nargs = " + flood_ + " " +
                           std::to_string(kSent) + "\n"));
  LogMark mark = gatehouse_->MarkLog();
  double started = MonotonicSeconds();
  RunOnce("flooded");
  double seconds = MonotonicSeconds() - started;
  // The program was not held up: 20000 datagrams take well under a second.
  EXPECT_LT(seconds, 10);
  // The supervisor's bound: its warning at once, then the lines it let through.
  ASSERT_TRUE(gatehouse_->WaitForLog("svc: program output dropped", mark)) << gatehouse_->Log(mark);
  // The child's bound: what it dropped is counted in its throttled lines: the
  // first at once (unless the supervisor's bound took it), the rest at the
  // window's end, 10 s later.
  uint64_t passed = static_cast<uint64_t>(200 + 200 * (seconds + 1));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return CountThrottled(gatehouse_->Log(mark), "dev_log: messages dropped") + 1 >=
               kSent - passed;
      },
      15))
      << gatehouse_->Log(mark);
  std::string log = gatehouse_->Log(mark);
  size_t logged = 0;
  for (size_t at = log.find("flood[7]: line "); at != std::string::npos;
       at = log.find("flood[7]: line ", at + 1)) {
    ++logged;
  }
  EXPECT_GT(logged, 0u);
  // At most a second's burst plus the rate for as long as it ran (a second of slack).
  EXPECT_LE(logged, passed) << seconds << " s";
}

// A chroot with a /dev gets the socket there; busybox's logger (static glibc
// syslog()) reaches it from inside the jail.
TEST_F(DevLogTest, AChrootWithDevGetsItsOwn) {
  TempDir jail("/tmp");
  ASSERT_EQ(mkdir((jail.path() + "/bin").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((jail.path() + "/dev").c_str(), 0755), 0);
  CopyExecutable("/bin/busybox", jail.path() + "/bin/busybox");
  ASSERT_TRUE(StartService("chroot = " + jail.path() +
                           "\nexec = /bin/busybox\n"
                           "args = sh -c \"/bin/busybox logger -t jailed hello from the jail; "
                           "echo done\"\n"));
  RunOnce("done");
  EXPECT_TRUE(gatehouse_->WaitForLog("jailed: hello from the jail")) << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("svc["), std::string::npos);
}

TEST_F(DevLogTest, CheckSaysAChrootWithoutDevGetsNone) {
  TempDir jail("/tmp");
  ASSERT_EQ(mkdir((jail.path() + "/bin").c_str(), 0755), 0);
  CopyExecutable("/bin/busybox", jail.path() + "/bin/busybox");
  std::string config =
      WriteConfig(dir_, "",
                  {{"svc.conf", "[svc]\nport = 127.0.0.1:0\nchroot = " + jail.path() +
                                    "\nexec = /bin/busybox\n"}});
  CommandResult check = RunCommand({Gatehouse(), "--config", config, "--check"});
  EXPECT_NE(check.out.find("dev_log: the chroot has no " + jail.path() + "/dev directory"),
            std::string::npos)
      << check.out << check.err;
}

}  // namespace
}  // namespace gatehouse::testing
