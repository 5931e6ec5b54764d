// Programs' stderr reaches the log only through the supervisor, as labelled,
// bounded, rate-limited lines; no program ever holds the log file itself. The
// log file is reopened when it was deleted or renamed, and with syslog program
// lines go to syslog like every other line.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include "common/monotonic_clock.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

constexpr const char* kForged = "2026-01-01T00:00:00.000Z gatehouse[1] notice: forged";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

size_t CountLinesWith(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (const std::string& line : Lines(text)) count += line.find(needle) != std::string::npos;
  return count;
}

// The lines "SERVICE: program output dropped" stand for, summed over the text
// (throttled: one line at once, then one per 10 s with how many more).
long DroppedLines(const std::string& text, const std::string& service) {
  return static_cast<long>(CountThrottled(text, " " + service + ": program output dropped"));
}

// strace attached to `pid`, delaying each of its openat() calls by `delay_us`:
// a supervisor slow to read a pidfd (/proc/self/fdinfo), as on a busy machine.
// Stopped (detached) by pid when it goes out of scope.
class SlowOpens {
 public:
  SlowOpens(pid_t pid, int delay_us, const std::string& messages) {
    std::string inject = "inject=openat:delay_enter=" + std::to_string(delay_us);
    tracer_ = fork();
    if (tracer_ == 0) {
      int out = open(messages.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 2);
      execlp("strace", "strace", "-o", "/dev/null", "-e", "trace=openat", "-e", inject.c_str(),
             "-p", std::to_string(pid).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    attached_ =
        WaitUntil([&] { return ReadFile(messages).find(" attached") != std::string::npos; });
  }
  ~SlowOpens() {
    if (tracer_ <= 0) return;
    kill(tracer_, SIGTERM);
    waitpid(tracer_, nullptr, 0);
  }
  bool attached() const { return attached_; }

 private:
  pid_t tracer_ = -1;
  bool attached_ = false;
};

class LogTest : public GatehouseTest {
 protected:
  // Starts gatehouse with log_file = log_file_ (also the harness's log, so that
  // readiness is seen there) and one service.
  ::testing::AssertionResult StartLogging(const std::string& service, int log_level = 2) {
    log_path_ = log_file_;
    return Start("log_level = " + std::to_string(log_level) + "\nlog_file = " + log_file_ + "\n",
                 {{"service.conf", service}});
  }
  std::string log_file_ = dir_.path() + "/gatehouse.log";
};

TEST_F(LogTest, AHostileProgramCannotTruncateOrForgeTheLog) {
  if (!IsRoot()) GTEST_SKIP() << "the log is root's and the program nobody's only as root";
  // The program says its pid, then waits for "go" and attacks its stderr: reopens
  // it truncating, truncates it by path and by fd, clears O_APPEND, seeks to the
  // start and writes a line that looks like gatehouse's own.
  TempDir readable("/tmp");  // nobody cannot reach into $TEST_TMPDIR under /root
  std::string script = readable.Write(
      "hostile.sh",
      "echo $$\n"
      "echo before-attack >&2\n"
      "read go\n"
      "( : > /dev/stderr )\n"
      "truncate -s 0 /proc/self/fd/2\n"
      "perl -MFcntl -e 'truncate(STDERR, 0); fcntl(STDERR, F_SETFL, 0); sysseek(STDERR, 0, 0);"
      " syswrite(STDERR, \"" +
          std::string(kForged) +
          "\\n\")'\n"
          "echo done\n");
  chmod(script.c_str(), 0755);
  ASSERT_TRUE(
      StartLogging("[hostile]\nport = 127.0.0.1:0\nexec = /bin/sh\nargs = " + script + "\n", 3));
  int connection = ConnectTcp("127.0.0.1", Port("hostile"));
  ASSERT_GE(connection, 0);
  std::string pid_line = ReadUntil(connection, "\n");
  // Its pid as we see it (in its own PID namespace it says another).
  pid_t program = ProgramPid(*gatehouse_, connection, "hostile");
  ASSERT_GT(program, 1) << pid_line << ReadFile(log_file_);
  std::string label = "hostile[" + std::to_string(program) + "]: ";
  ASSERT_TRUE(WaitUntil([&] {
    return ReadFile(log_file_).find(label + "before-attack") != std::string::npos;
  })) << ReadFile(log_file_);

  // The running program's stderr is a pipe, not the log file.
  std::string fd = "/proc/" + std::to_string(program) + "/fd/";
  EXPECT_EQ(Link(fd + "2").rfind("pipe:[", 0), 0u) << Link(fd + "2");
  for (const char* n : {"0", "1", "2"}) EXPECT_NE(Link(fd + n), log_file_) << n;
  std::string fdinfo = ReadFile("/proc/" + std::to_string(program) + "/fdinfo/2");
  EXPECT_NE(fdinfo.find("flags:"), std::string::npos) << fdinfo;

  std::string before = ReadFile(log_file_);
  ASSERT_EQ(write(connection, "go\n", 3), 3);
  EXPECT_NE(ReadUntil(connection, "done\n").find("done\n"), std::string::npos);
  close(connection);
  ASSERT_TRUE(WaitUntil([&] {
    return ReadFile(log_file_).find(std::string(label) + kForged) != std::string::npos;
  })) << ReadFile(log_file_);

  // Everything logged before the attack is still there, in place; the forged text
  // is only inside the program's labelled line, and gatehouse still appends.
  std::string after = ReadFile(log_file_);
  EXPECT_EQ(after.substr(0, before.size()), before);
  for (const std::string& line : Lines(after)) {
    size_t at = line.find("forged");
    if (at == std::string::npos) continue;
    EXPECT_NE(line.find(" notice: " + label + kForged), std::string::npos) << line;
    EXPECT_NE(line.rfind(kForged, 0), 0u) << line;
  }
  EXPECT_EQ(CountLinesWith(after, "forged"), 1u) << after;
  LogMark mark = gatehouse_->MarkLog();
  gatehouse_->Stop(SIGTERM);
  EXPECT_NE(gatehouse_->Log(mark).find("] notice: stopped"), std::string::npos)
      << ReadFile(log_file_);
  EXPECT_EQ(ReadFile(log_file_).substr(0, after.size()), after);
}

TEST_F(LogTest, ProgramStderrLinesAreLabelledWithTheProgramPid) {
  // A whole line, control bytes, and a last line without its newline.
  ASSERT_TRUE(StartLogging(
      "[echo]\nport = 127.0.0.1:0\nexec = /bin/sh\n"
      "args = -c 'echo $$; echo hello from $$ >&2; printf \"bell\\a esc\\033[31m\\n\" >&2; "
      "printf no-newline-$$ >&2'\n",
      3));
  CommandResult result = RunCommand({"nc", "-N", "127.0.0.1", std::to_string(Port("echo"))});
  pid_t own = std::atoi(result.out.c_str());  // its $$, in its PID namespace
  ASSERT_GT(own, 1) << result.out << result.err;
  std::string self = std::to_string(own);
  ASSERT_TRUE(gatehouse_->WaitForLog(" exit 127.0.0.1:")) << gatehouse_->Log();
  ASSERT_TRUE(gatehouse_->WaitForLog("no-newline-" + self)) << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  // The label's pid is the one the start line names: the host's, not the $$ the
  // program sees in its namespace.
  std::string pid = std::to_string(FirstProgramPid(log, "echo"));
  ASSERT_NE(pid, "0") << log;
  EXPECT_NE(log.find("] notice: echo[" + pid + "]: hello from " + self + "\n"), std::string::npos)
      << log;
  EXPECT_NE(log.find("] notice: echo[" + pid + "]: bell? esc?[31m\n"), std::string::npos) << log;
  EXPECT_NE(log.find("] notice: echo[" + pid + "]: no-newline-" + self + "\n"), std::string::npos)
      << log;
  EXPECT_EQ(log.find('\033'), std::string::npos);
  // Every line in the file is gatehouse's own: none is raw program output.
  for (const std::string& line : Lines(log)) {
    EXPECT_NE(line.find(" gatehouse["), std::string::npos) << line;
  }
}

// sshd -e ends every stderr line in CRLF: the CR is part of the line end, not
// a byte for the log to show as '?'. A CR inside a line still is one.
TEST_F(LogTest, ACarriageReturnEndingAStderrLineIsDropped) {
  ASSERT_TRUE(StartLogging(
      "[crlf]\nport = 127.0.0.1:0\nexec = /bin/sh\n"
      "args = -c 'printf \"like sshd -e\\r\\nin\\rside\\r\\n\" >&2; printf \"last\\r\" >&2'\n"));
  RunCommand({"nc", "-N", "127.0.0.1", std::to_string(Port("crlf"))});
  ASSERT_TRUE(gatehouse_->WaitForLog("]: last")) << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  EXPECT_NE(log.find("]: like sshd -e\n"), std::string::npos) << log;
  EXPECT_NE(log.find("]: in?side\n"), std::string::npos) << log;
  EXPECT_NE(log.find("]: last\n"), std::string::npos) << log;
  EXPECT_EQ(log.find("e?\n"), std::string::npos) << log;
}

// Connects to 127.0.0.1:`port` from `source` and resets the connection at once
// (SO_LINGER 0), as a client that fails programs at will does.
void ConnectAndReset(int port, const std::string& source) {
  int fd = ConnectTcp("127.0.0.1", port, source);
  if (fd < 0) return;
  linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  close(fd);
}

// The issue's connect-and-reset loop: each connection a failed program, its
// exit line at notice and its stderr line. Per client, both go through the
// throttle: the first lines, then a count; another client's first lines still
// show at once, and the counts add up to every program.
TEST_F(LogTest, AConnectAndResetLoopIsThrottledPerClient) {
  ASSERT_TRUE(
      StartLogging("[fail]\nport = 127.0.0.1:0\nexec = /bin/sh\n"
                   "args = -c 'echo \"fail: cannot read the request\" >&2; exit 1'\n"));
  int port = Port("fail");
  constexpr int kLoop = 300;
  double started = MonotonicSeconds();
  for (int i = 0; i < kLoop; ++i) ConnectAndReset(port, "127.0.0.1");
  auto exited = [&] {
    LogMark mark = gatehouse_->MarkLog();
    kill(gatehouse_->pid(), SIGUSR1);
    if (!gatehouse_->WaitForLog("status: fail:", mark)) return false;
    return gatehouse_->Log(mark).find(", exit_nonzero " + std::to_string(kLoop) + ",") !=
           std::string::npos;
  };
  ASSERT_TRUE(WaitUntil(exited, 30)) << gatehouse_->Log();
  // Another client is not hidden by the first one's flood.
  LogMark other = gatehouse_->MarkLog();
  ConnectAndReset(port, "127.0.0.2");
  EXPECT_TRUE(gatehouse_->WaitForLog("fail: exit 127.0.0.2:", other)) << gatehouse_->Log(other);
  EXPECT_TRUE(gatehouse_->WaitForLog("]: fail: cannot read the request\n", other))
      << gatehouse_->Log(other);
  // Stopping logs what the throttle still counts.
  EXPECT_EQ(gatehouse_->Stop(SIGTERM), 0);
  // The first line, one per 10 s window the loop took, and the last at the stop.
  size_t windows = static_cast<size_t>((MonotonicSeconds() - started) / 10) + 1;
  std::string log = ReadFile(log_file_);
  EXPECT_EQ(CountThrottled(log, "fail: exit 127.0.0.1:"), static_cast<uint64_t>(kLoop)) << log;
  EXPECT_LE(CountLinesWith(log, "fail: exit 127.0.0.1:"), 1 + windows) << log;
  EXPECT_EQ(CountThrottled(log, "]: fail: cannot read the request"),
            static_cast<uint64_t>(kLoop) + 1)
      << log;
  // The client's programs logged in full: a burst of 32, 4 a second; then the
  // throttle's lines. Far from one per program.
  EXPECT_LE(CountLinesWith(log, "]: fail: cannot read the request"),
            32 + 4 * 10 * windows + 1 + windows + 1)
      << log;
  EXPECT_EQ(CountLinesWith(log, "program output dropped"), 0u) << log;
  std::cout << "connect-and-reset loop of " << kLoop << ": " << Lines(log).size() << " log lines, "
            << log.size() << " bytes\n";
}

TEST_F(LogTest, ProgramsThatEndAtOnceAreLoggedWithTheirPid) {
  if (!IsRoot()) GTEST_SKIP() << "programs get a PID namespace of their own only as root";
  ASSERT_TRUE(StartLogging("[quick]\nport = 127.0.0.1:0\nexec = /bin/true\n", 3));
  ASSERT_NE(gatehouse_->Log().find("isolation: each service in its own PID"), std::string::npos)
      << gatehouse_->Log();
  std::string port = std::to_string(Port("quick"));
  {
    // Each pidfd is read 20 ms late: /bin/true has ended long before.
    SlowOpens slow(gatehouse_->pid(), 20000, dir_.path() + "/strace.err");
    ASSERT_TRUE(slow.attached()) << ReadFile(dir_.path() + "/strace.err");
    for (int i = 0; i < 50; ++i) RunCommand({"nc", "-N", "127.0.0.1", port});
    ASSERT_TRUE(WaitUntil([&] { return CountLinesWith(gatehouse_->Log(), "quick: exit ") == 50; }))
        << gatehouse_->Log();
  }
  std::string log = gatehouse_->Log();
  std::map<std::string, std::string> started;  // peer -> pid
  const std::regex start(R"(\] info: quick: start (127\.0\.0\.1:\d+) pid (\d+)$)");
  const std::regex exit(R"(\] info: quick: exit (127\.0\.0\.1:\d+) pid (\d+) exit 0 after )");
  std::smatch match;
  for (const std::string& line : Lines(log)) {
    if (line.find("quick: start ") != std::string::npos) {
      ASSERT_TRUE(std::regex_search(line, match, start)) << line;
      EXPECT_GT(std::stol(match[2]), 1) << line;
      started[match[1]] = match[2];
    } else if (line.find("quick: exit ") != std::string::npos) {
      ASSERT_TRUE(std::regex_search(line, match, exit)) << line;
      EXPECT_EQ(started[match[1]], match[2].str()) << line;  // the pid its start line named
    }
  }
  EXPECT_EQ(started.size(), 50u) << log;
}

TEST_F(LogTest, ALongLineIsCutAndMarked) {
  ASSERT_TRUE(
      StartLogging("[long]\nport = 127.0.0.1:0\nexec = /bin/sh\n"
                   "args = -c 'head -c 5000 /dev/zero | tr \"\\0\" x >&2; echo \" tail\" >&2; echo "
                   "next >&2'\n"));
  RunCommand({"nc", "-N", "127.0.0.1", std::to_string(Port("long"))});
  ASSERT_TRUE(gatehouse_->WaitForLog("]: next\n")) << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  EXPECT_NE(log.find("]: " + std::string(1024, 'x') + " [cut]\n"), std::string::npos) << log;
  EXPECT_EQ(log.find("tail"), std::string::npos);  // the rest of the cut line is gone
}

TEST_F(LogTest, AFloodingProgramIsRateLimitedAndTheDropsAreCounted) {
  ASSERT_TRUE(StartLogging(
      "[flood]\nport = 127.0.0.1:0\nexec = /bin/sh\n"
      "args = -c 'timeout 1 yes flooding >&2; sleep 1.5; echo after the flood >&2'\n"));
  size_t size_before = ReadFile(log_file_).size();
  CommandResult result = RunCommand({"nc", "-N", "127.0.0.1", std::to_string(Port("flood"))});
  // The flood ends in a second.
  // (yes may be killed in the middle of a line, which the next one then ends.)
  ASSERT_TRUE(gatehouse_->WaitForLog("after the flood\n")) << result.err << [&] {
    std::string log = gatehouse_->Log();
    return log.substr(log.size() > 2000 ? log.size() - 2000 : 0);
  }();
  // The first drops are logged at once, the rest when the 10 s window ends.
  ASSERT_TRUE(gatehouse_->WaitForLog("flood: program output dropped"));
  WaitUntil([&] { return CountLinesWith(gatehouse_->Log(), "flood: program output dropped") >= 2; },
            15);
  std::string log = gatehouse_->Log();
  size_t logged = CountLinesWith(log, "]: flooding");
  long dropped = DroppedLines(log, "flood");
  // yes writes millions of lines a second; at most a burst (100) and 100 a second
  // for the few seconds the flood and its draining take get through.
  EXPECT_GE(logged, 50u);
  EXPECT_LE(logged, 500u);
  EXPECT_GT(dropped, 10000) << log.substr(log.size() > 2000 ? log.size() - 2000 : 0);
  EXPECT_LT(ReadFile(log_file_).size() - size_before, 100u * 1024);
}

TEST_F(LogTest, ADeletedOrRenamedLogFileIsMadeAgain) {
  ASSERT_TRUE(StartLogging("[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n", 3));
  int port = Port("echo");
  std::string rotated = log_file_ + ".1";
  // Each connection logs a "start" line; the check runs at most once a second.
  auto logs_again_into = [&](const std::string& marker) {
    return WaitUntil(
        [&] {
          RunCommand({"nc", "-N", "127.0.0.1", std::to_string(port)}, marker + "\n");
          return ReadFile(log_file_).find("echo: start 127.0.0.1:") != std::string::npos;
        },
        10);
  };

  ASSERT_EQ(rename(log_file_.c_str(), rotated.c_str()), 0);  // logrotate's way
  EXPECT_TRUE(logs_again_into("after rename")) << ReadFile(rotated);
  EXPECT_NE(ReadFile(rotated).find("echo: ready"), std::string::npos);  // the old lines stay
  EXPECT_EQ(ReadFile(log_file_).find("echo: ready"), std::string::npos);
  struct stat info {};
  ASSERT_EQ(stat(log_file_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0640u);

  ASSERT_EQ(unlink(log_file_.c_str()), 0);  // an administrator's rm
  EXPECT_TRUE(logs_again_into("after rm"));
}

// The service child's own stderr is a pipe too, read and labelled by the
// supervisor: here a stand-in child (a script beside gatehouse) that writes to
// stderr, says what its fd 2 is, and dies.
TEST(LogFromChild, TheChildsOwnStderrIsLabelledAndNotTheLogFile) {
  TempDir dir;
  CopyExecutable(Runfile("supervisor/gatehouse"), dir.path() + "/gatehouse");
  std::string child = dir.Write("gatehouse-child",
                                "#!/bin/sh\n"
                                "echo \"fd 2 is $(readlink /proc/self/fd/2)\" >&2\n"
                                "printf \"last words\" >&2\n"
                                "exec sleep 30\n");
  chmod(child.c_str(), 0755);
  std::string log_file = dir.path() + "/gatehouse.log";
  std::string config =
      WriteConfig(dir, "log_file = " + log_file + "\n",
                  {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
  GatehouseProcess::Launch launch;
  launch.binary = dir.path() + "/gatehouse";
  launch.ready_file = log_file;
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/stderr.log", launch);
  ASSERT_TRUE(gatehouse.started()) << ReadFile(log_file) << ReadFile(dir.path() + "/stderr.log");
  ASSERT_TRUE(WaitUntil([&] {
    return ReadFile(log_file).find("notice: echo child: fd 2 is pipe:[") != std::string::npos;
  })) << ReadFile(log_file);
  // The partial last line comes when the child has gone.
  for (pid_t pid : ChildPids(gatehouse.pid())) kill(pid, SIGKILL);
  EXPECT_TRUE(WaitUntil([&] {
    return ReadFile(log_file).find("notice: echo child: last words\n") != std::string::npos;
  })) << ReadFile(log_file);
  EXPECT_EQ(ReadFile(dir.path() + "/stderr.log"), "");  // gatehouse's own stderr: nothing
}

TEST(LogToSyslog, ProgramStderrGoesToSyslog) {
  if (!IsRoot()) GTEST_SKIP() << "mount namespaces need root";
  TempDir dir;
  std::string config = WriteConfig(
      dir,
      "log_file = Sys::Syslog\nsyslog_ident = ghlog\nsyslog_facility = local3\nlog_level = 3\n",
      {{"echo.conf",
        "[echo]\nport = 127.0.0.1:0\nexec = /bin/sh\nargs = -c 'echo $$; echo to syslog >&2; sleep "
        "1'\n"}});
  std::string syslog = dir.path() + "/syslog.txt";
  std::string stderr_log = dir.path() + "/stderr.log";
  GatehouseProcess::Launch launch;
  launch.wrapper = PrivateDevLogWrapper(dir.path());
  launch.ready_file = syslog;
  GatehouseProcess gatehouse({"--config", config}, stderr_log, launch);
  ASSERT_TRUE(gatehouse.started()) << ReadFile(syslog) << ReadFile(stderr_log);
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(syslog).find("echo: ready") != std::string::npos; }))
      << ReadFile(syslog);
  std::string text = ReadFile(syslog);
  size_t at = text.find("echo: listening on 127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << text;
  int port = std::atoi(text.c_str() + at + 29);
  CommandResult result = RunCommand({"nc", "-N", "127.0.0.1", std::to_string(port)});
  ASSERT_GT(std::atoi(result.out.c_str()), 1) << result.out;
  ASSERT_TRUE(WaitUntil([&] { return FirstProgramPid(ReadFile(syslog), "echo") > 1; }))
      << ReadFile(syslog);
  pid_t program = FirstProgramPid(ReadFile(syslog), "echo");  // as the host sees it
  // local3 (19) * 8 + notice (5) = 157, from gatehouse's own ident and pid.
  std::string line = "ghlog[" + std::to_string(gatehouse.pid()) + "]: echo[" +
                     std::to_string(program) + "]: to syslog";
  EXPECT_TRUE(WaitUntil([&] {
    std::string now = ReadFile(syslog);
    size_t found = now.find(line);
    size_t priority = found == std::string::npos ? found : now.rfind('<', found);
    return priority != std::string::npos && now.compare(priority, 5, "<157>") == 0;
  })) << ReadFile(syslog);
  EXPECT_EQ(ReadFile(stderr_log).find("to syslog"), std::string::npos) << ReadFile(stderr_log);

  std::vector<pid_t> syslogd;
  for (pid_t pid : ChildPids(gatehouse.pid())) {
    if (ReadFile("/proc/" + std::to_string(pid) + "/comm").rfind("timeout", 0) == 0) {
      syslogd.push_back(pid);
    }
  }
  EXPECT_EQ(gatehouse.Stop(SIGTERM, 20), 0);
  for (pid_t pid : syslogd) kill(pid, SIGTERM);
}

}  // namespace
}  // namespace gatehouse::testing
