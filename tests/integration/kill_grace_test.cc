// kill_grace end to end: a program that ignores TERM is KILLed once its service's
// kill_grace is over (not before, not much after), on shutdown; and a reload with
// reload_programs = end ends a changed service's held connections, while the
// default keep leaves them running.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "common/monotonic_clock.h"
#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// A program that only KILL ends: it echoes (cat with `cat_args`) and ignores TERM,
// which stays ignored across exec.
std::string TermIgnoringService(const std::string& name, int kill_grace,
                                const std::string& cat_args = "") {
  return "[" + name + "]\nport = 127.0.0.1:0\nexec = /bin/sh\nargs = -c 'trap \"\" TERM; exec cat" +
         cat_args + "'\nkill_grace = " + std::to_string(kill_grace) + "\n";
}

bool Alive(pid_t pid) {
  // A zombie is gone for our purpose: it runs nothing.
  std::string state = ProcStatusField(pid, "State");
  return !state.empty() && state[0] != 'Z';
}

// True when the peer closes `fd` (EOF or reset) within `timeout_seconds`; data
// that still arrives is read and ignored.
bool ClosedWithin(int fd, double timeout_seconds) {
  double deadline = MonotonicSeconds() + timeout_seconds;
  while (MonotonicSeconds() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>((deadline - MonotonicSeconds()) * 1000) + 1) <= 0) continue;
    char buffer[256];
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
  }
  return false;
}

class KillGraceTest : public GatehouseTest {
 protected:
  // Connects to `service`, checks that its program echoes, and returns the
  // connection; `program` gets the program's pid (from the "start" log line).
  int HoldConnection(const std::string& service, pid_t* program) {
    LogMark mark = gatehouse_->MarkLog();
    int fd = ConnectTcp("127.0.0.1", Port(service));
    EXPECT_GE(fd, 0) << service;
    if (fd < 0) return -1;
    EXPECT_EQ(write(fd, "before\n", 7), 7);
    EXPECT_EQ(ReadUntil(fd, "before\n"), "before\n") << service << "\n" << gatehouse_->Log();
    std::string start = service + ": start ";
    EXPECT_TRUE(gatehouse_->WaitForLog(start, mark)) << gatehouse_->Log();
    std::string log = gatehouse_->Log(mark);
    size_t at = log.find(" pid ", log.find(start));
    *program = at == std::string::npos ? 0 : std::stoi(log.substr(at + 5));
    EXPECT_GT(*program, 1) << log;
    return fd;
  }
};

TEST_F(KillGraceTest, ProgramsIgnoringTermAreKilledAfterTheirServicesKillGrace) {
  ASSERT_TRUE(Start("shutdown_timeout = 0\nlog_level = 3\n",
                    {{"short.conf", TermIgnoringService("short", 1)},
                     {"long.conf", TermIgnoringService("long", 4)}}));
  pid_t short_program = 0, long_program = 0;
  int short_fd = HoldConnection("short", &short_program);
  int long_fd = HoldConnection("long", &long_program);
  ASSERT_TRUE(short_fd >= 0 && long_fd >= 0 && short_program > 1 && long_program > 1);

  // TERM with shutdown_timeout = 0: the children TERM their programs at once.
  double term_sent = MonotonicSeconds();
  ASSERT_EQ(kill(gatehouse_->pid(), SIGTERM), 0);
  double short_gone = 0, long_gone = 0;
  WaitUntil(
      [&] {
        double now = MonotonicSeconds() - term_sent;
        if (short_gone == 0 && !Alive(short_program)) short_gone = now;
        if (long_gone == 0 && !Alive(long_program)) long_gone = now;
        return short_gone > 0 && long_gone > 0;
      },
      12);
  std::cout << "after TERM: kill_grace 1 program gone at " << short_gone
            << " s, kill_grace 4 program gone at " << long_gone << " s\n";

  // Ended by KILL, after the grace (TERM is ignored), and well before the
  // supervisor's own KILL (largest kill_grace + 1 = 5 s).
  EXPECT_GT(short_gone, 0) << "kill_grace 1: still running\n" << gatehouse_->Log();
  EXPECT_GE(short_gone, 0.9) << "the program ignoring TERM ended before its kill_grace";
  EXPECT_LE(short_gone, 3.5) << "kill_grace 1: not KILLed in time\n" << gatehouse_->Log();
  // Still running well after 2 s (the old fixed delay): it has 4.
  EXPECT_GT(long_gone, 0) << "kill_grace 4: still running\n" << gatehouse_->Log();
  EXPECT_GT(long_gone, 3.0) << "kill_grace 4: KILLed early\n" << gatehouse_->Log();
  EXPECT_LE(long_gone, 8.0) << gatehouse_->Log();

  EXPECT_EQ(gatehouse_->Stop(SIGTERM, 20), 0) << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  for (pid_t pid : {short_program, long_program}) {
    EXPECT_NE(log.find(" pid " + std::to_string(pid) + " signal Killed"), std::string::npos)
        << pid << "\n"
        << log;
  }
  close(short_fd);
  close(long_fd);
}

TEST_F(KillGraceTest, ReloadProgramsEndEndsHeldConnectionsAndKeepLeavesThem) {
  // [ends]'s program ignores TERM, so only its child's KILL after kill_grace ends it.
  const std::string end = "reload_programs = end\n";
  const std::string keeps = "[keeps]\nport = 127.0.0.1:0\nexec = /bin/cat\n";
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"ends.conf", TermIgnoringService("ends", 1) + end}, {"keeps.conf", keeps}}));
  pid_t ends_program = 0, keeps_program = 0;
  int ends_fd = HoldConnection("ends", &ends_program);
  int keeps_fd = HoldConnection("keeps", &keeps_program);
  ASSERT_TRUE(ends_fd >= 0 && keeps_fd >= 0);

  // Both services change their program's arguments.
  dir_.Write("services.d/ends.conf", TermIgnoringService("ends", 1, " -u") + end);
  dir_.Write("services.d/keeps.conf", keeps + "args = -u\n");
  LogMark mark = gatehouse_->MarkLog();
  double hup_sent = MonotonicSeconds();
  ASSERT_EQ(kill(gatehouse_->pid(), SIGHUP), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("reloaded: ", mark)) << gatehouse_->Log();
  std::string reload = gatehouse_->Log(mark);
  ASSERT_NE(reload.find("ends: changed"), std::string::npos) << reload;
  ASSERT_NE(reload.find("keeps: changed"), std::string::npos) << reload;

  // end: the held connection's program is KILLed once kill_grace (1 s) is over.
  EXPECT_TRUE(ClosedWithin(ends_fd, 3.5)) << "reload_programs = end left the program running\n"
                                          << gatehouse_->Log();
  double closed_after = MonotonicSeconds() - hup_sent;
  std::cout << "reload_programs = end: connection closed " << closed_after << " s after HUP\n";
  EXPECT_GE(closed_after, 0.9) << "ended before its kill_grace";
  EXPECT_TRUE(WaitUntil([&] { return !Alive(ends_program); }, 2));

  // keep: past the grace, the old program still echoes on its connection.
  ASSERT_EQ(write(keeps_fd, "after\n", 6), 6);
  EXPECT_EQ(ReadUntil(keeps_fd, "after\n", 5), "after\n")
      << "reload_programs = keep ended the program\n"
      << gatehouse_->Log();
  EXPECT_TRUE(Alive(keeps_program));
  close(ends_fd);
  close(keeps_fd);
}

TEST_F(KillGraceTest, ADrainingChildKeepsItsOwnLongerKillGraceAtShutdown) {
  // Its program ignores TERM and, given a line, ends 3 s later with a status of its own.
  auto service = [](int kill_grace) {
    return "[slow]\nport = 127.0.0.1:0\nexec = /bin/sh\n"
           "args = -c 'trap \"\" TERM; read line; sleep 3; exit 7'\nkill_grace = " +
           std::to_string(kill_grace) + "\n";
  };
  ASSERT_TRUE(Start("shutdown_timeout = 0\nlog_level = 3\n", {{"slow.conf", service(4)}}));
  LogMark mark = gatehouse_->MarkLog();
  int fd = ConnectTcp("127.0.0.1", Port("slow"));
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("slow: start ", mark)) << gatehouse_->Log();

  // The reload lowers kill_grace to 0; the old child keeps the program (keep) and its 4 s.
  dir_.Write("services.d/slow.conf", service(0));
  ASSERT_EQ(kill(gatehouse_->pid(), SIGHUP), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("reloaded: ", mark)) << gatehouse_->Log();
  ASSERT_NE(gatehouse_->Log(mark).find("slow: changed"), std::string::npos) << gatehouse_->Log();

  // Shutdown: the program's grace is the old child's 4 s, not the current config's 0
  // (the supervisor's own KILL would come at 0 + 1 s and end it half-way).
  ASSERT_EQ(write(fd, "go\n", 3), 3);
  double term_sent = MonotonicSeconds();
  EXPECT_EQ(gatehouse_->Stop(SIGTERM, 20), 0) << gatehouse_->Log();
  double stopped_after = MonotonicSeconds() - term_sent;
  std::cout << "gatehouse stopped " << stopped_after << " s after TERM\n";
  std::string log = gatehouse_->Log(mark);
  EXPECT_NE(log.find("slow: exit 127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find(" exit 7 after 3."), std::string::npos) << log;
  EXPECT_EQ(log.find("child did not end; killing it"), std::string::npos) << log;
  EXPECT_GE(stopped_after, 2.5) << log;
  close(fd);
}

}  // namespace
}  // namespace gatehouse::testing

namespace gatehouse::testing {
namespace {

// Programs of the services, the children of each serving gatehouse-child but
// the keeper of its namespace.
std::vector<pid_t> ProgramsBelow(pid_t supervisor) {
  std::vector<pid_t> programs;
  for (pid_t child : ChildPids(supervisor)) {
    for (pid_t program : ProgramsOf(child)) programs.push_back(program);
  }
  return programs;
}

class TimeoutTest : public GatehouseTest {};

// timeout = 1: the program and what it started (its process group) get TERM
// after a second; one that ignores TERM gets KILL kill_grace later.
TEST_F(TimeoutTest, AProgramPastItsTimeoutEndsWithWhatItStarted) {
  if (!IsRoot()) GTEST_SKIP() << "the namespace layout below is root's";
  ASSERT_TRUE(
      Start("log_level = 3\n",
            {{"slow.conf",
              "[slow]\nport = 127.0.0.1:0\ntimeout = 1\nexec = /bin/sh\n"
              "args = -c 'sleep 30 & echo started; wait'\n"},
             {"stubborn.conf",
              "[stubborn]\nport = 127.0.0.1:0\ntimeout = 1\nkill_grace = 1\nexec = /bin/sh\n"
              "args = -c 'trap \"\" TERM; sleep 30 & echo started; wait'\n"},
             {"patient.conf",
              "[patient]\nport = 127.0.0.1:0\nexec = /bin/sh\n"
              "args = -c 'echo started; exec sleep 30'\n"}}));
  int slow = ConnectTcp("127.0.0.1", Port("slow"));
  int stubborn = ConnectTcp("127.0.0.1", Port("stubborn"));
  int patient = ConnectTcp("127.0.0.1", Port("patient"));
  ASSERT_EQ(ReadUntil(slow, "\n"), "started\n");
  ASSERT_EQ(ReadUntil(stubborn, "\n"), "started\n");
  ASSERT_EQ(ReadUntil(patient, "\n"), "started\n");
  auto ends_within = [](int fd, double seconds) {
    double start = MonotonicSeconds();
    std::string rest = ReadUntil(fd, "\x01never", seconds);
    return std::make_pair(rest, MonotonicSeconds() - start);
  };
  auto [slow_rest, slow_took] = ends_within(slow, 8);
  auto [stubborn_rest, stubborn_took] = ends_within(stubborn, 8);
  EXPECT_EQ(slow_rest, "");
  EXPECT_LT(slow_took, 5) << "the connection outlived its timeout";
  EXPECT_LT(stubborn_took, 6) << "TERM-ignoring program not KILLed";
  EXPECT_TRUE(gatehouse_->WaitForLog("slow child: gatehouse-child[slow]: program"))
      << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("ran past its timeout of 1 s; TERM"), std::string::npos);
  // Only the service without a timeout has programs left: the background sleeps
  // of the other two went with their group.
  EXPECT_TRUE(WaitUntil([&] { return ProgramsBelow(gatehouse_->pid()).size() == 1; }, 5))
      << ProgramsBelow(gatehouse_->pid()).size() << " programs left\n"
      << gatehouse_->Log();
  close(slow);
  close(stubborn);
  close(patient);
}

}  // namespace
}  // namespace gatehouse::testing
