// The supervisor's life: --check, refusing a bad config, graceful and forced
// stops, pid_file and background, the built-in default, and a child restart.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "common/exec_interpreter.h"
#include "common/monotonic_clock.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

const char* kEcho = "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n";

TEST(Check, GoodConfigPrintsTheResolvedServices) {
  TempDir dir;
  std::string config = WriteConfig(
      dir, "", {{"echo.conf", "[echo]\nport = 127.0.0.1:7007\nexec = /bin/cat\nargs = -u\n"}});
  CommandResult result = RunCommand({Gatehouse(), "--config", config, "--check"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("[echo]"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("port     127.0.0.1:7007/tcp"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("argv     cat -u"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("config OK"), std::string::npos);
  EXPECT_NE(result.out.find("child program: /"), std::string::npos) << result.out;
}

TEST(Check, BadConfigFailsAndNothingStarts) {
  TempDir dir;
  std::string config =
      WriteConfig(dir, "", {{"echo.conf", "[echo]\nexec = /bin/cat\nport = 70000\n"}});
  CommandResult check = RunCommand({Gatehouse(), "--config", config, "--check"});
  EXPECT_EQ(check.exit_code, 1);
  std::string expected = "services.d/echo.conf:3: port: \"70000\" is not a port (0-65535)";
  EXPECT_NE(check.err.find(expected), std::string::npos) << check.err;
  CommandResult run = RunCommand({Gatehouse(), "--config", config}, "", 10);
  EXPECT_FALSE(run.timed_out);  // it did not start serving
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find(expected), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("listening"), std::string::npos);
}

TEST(Check, BusyPortFailsWithFileLineAndKey) {
  TempDir dir;
  // Occupy a port with a first gatehouse, then start a second on the same port.
  std::string first = WriteConfig(dir, "", {{"echo.conf", kEcho}});
  GatehouseProcess one({"--config", first}, dir.path() + "/one.log");
  ASSERT_TRUE(one.started()) << one.Log();
  int port = one.Port("echo");
  TempDir dir2;
  std::string second = WriteConfig(
      dir2, "",
      {{"echo.conf", "[echo]\nexec = /bin/cat\nport = 127.0.0.1:" + std::to_string(port) + "\n"}});
  CommandResult run = RunCommand({Gatehouse(), "--config", second});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("services.d/echo.conf:3: port: bind 127.0.0.1:" + std::to_string(port) +
                         ": Address already in use"),
            std::string::npos)
      << run.err;
}

TEST(Check, MissingChildProgramFailsAtOnce) {
  TempDir dir;
  CopyExecutable(Gatehouse(), dir.path() + "/gatehouse");  // without gatehouse-child beside it
  std::string config = WriteConfig(dir, "", {{"echo.conf", kEcho}});
  CommandResult run = RunCommand({dir.path() + "/gatehouse", "--config", config});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("gatehouse-child not found: " + dir.path()), std::string::npos) << run.err;
}

TEST(Check, UnwritableLogFileFailsClearly) {
  TempDir dir;
  std::string config =
      WriteConfig(dir, "log_file = /nonexistent/dir/gatehouse.log\n", {{"echo.conf", kEcho}});
  CommandResult run = RunCommand({Gatehouse(), "--config", config});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("open log_file /nonexistent/dir/gatehouse.log: No such file or directory"),
            std::string::npos)
      << run.err;
}

TEST(Check, UsageErrors) {
  CommandResult unknown = RunCommand({Gatehouse(), "--no-such-option=1"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown option --no_such_option"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("usage: gatehouse"), std::string::npos);
  CommandResult help = RunCommand({Gatehouse(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--check"), std::string::npos);
}

// A signal set from /proc/PID/status (SigIgn, SigBlk): bit N-1 for signal N.
uint64_t SignalSet(pid_t pid, const std::string& field) {
  return std::stoull(ProcStatusField(pid, field), nullptr, 16);
}
constexpr uint64_t Bit(int signal) { return uint64_t{1} << (signal - 1); }

class SignalStateTest : public GatehouseTest {};

TEST_F(SignalStateTest, GatehouseAndItsChildStartWithDefaultSignalsWhateverTheirParentSet) {
  // gatehouse started by a parent that ignores and blocks signals of its own
  // (python3 cannot reach glibc's 32 and 33; they are reset the same way),
  // TERM and HUP among the blocked ones.
  const std::string ignore_and_block =
      "import os, signal, sys\n"
      "for s in (signal.SIGALRM, signal.SIGUSR1, signal.SIGRTMIN + 2, signal.SIGRTMAX):\n"
      "    signal.signal(s, signal.SIG_IGN)\n"
      "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH, signal.SIGRTMIN + 3,\n"
      "                                          signal.SIGTERM, signal.SIGHUP})\n"
      "os.execv(sys.argv[1], sys.argv[1:])\n";
  GatehouseProcess::Launch launch;
  launch.wrapper = {"python3", "-c", ignore_and_block};
  ASSERT_TRUE(Start("", {{"echo.conf", kEcho}}, launch));
  // gatehouse kept none of it: it ignores only SIGPIPE, and what it blocks is
  // its own (none outside a signal handler).
  EXPECT_EQ(SignalSet(gatehouse_->pid(), "SigIgn") & ~Bit(SIGPIPE), 0u)
      << ProcStatusField(gatehouse_->pid(), "SigIgn");
  EXPECT_EQ(SignalSet(gatehouse_->pid(), "SigBlk"), 0u)
      << ProcStatusField(gatehouse_->pid(), "SigBlk");
  // So HUP reloads and USR1 reports, though the parent had blocked or ignored them.
  LogMark mark = gatehouse_->MarkLog();
  ASSERT_EQ(kill(gatehouse_->pid(), SIGHUP), 0);
  EXPECT_TRUE(gatehouse_->WaitForLog("reloaded", mark, 5)) << gatehouse_->Log();
  ASSERT_EQ(kill(gatehouse_->pid(), SIGUSR1), 0);
  EXPECT_TRUE(gatehouse_->WaitForLog("status: echo: ", mark, 5)) << gatehouse_->Log();

  // Only what the child sets itself: HUP, INT, QUIT and PIPE ignored; TERM (read by
  // a signalfd in the serving process) and CHLD (the namespace holder's) blocked.
  const uint64_t own_ignored = Bit(SIGHUP) | Bit(SIGINT) | Bit(SIGQUIT) | Bit(SIGPIPE);
  const uint64_t own_blocked = Bit(SIGTERM) | Bit(SIGCHLD);
  std::vector<pid_t> children;  // the child, and with namespaces its init
  for (pid_t child : ChildPids(gatehouse_->pid())) {
    children.push_back(child);
    for (pid_t init : ChildPids(child)) children.push_back(init);
  }
  ASSERT_FALSE(children.empty());
  for (pid_t pid : children) {
    ASSERT_EQ(ProcStatusField(pid, "Name"), "gatehouse-child") << pid;
    EXPECT_EQ(SignalSet(pid, "SigIgn") & ~own_ignored, 0u)
        << pid << " ignores " << ProcStatusField(pid, "SigIgn");
    EXPECT_EQ(SignalSet(pid, "SigBlk") & ~own_blocked, 0u)
        << pid << " blocks " << ProcStatusField(pid, "SigBlk");
  }
  // And TERM stops it.
  EXPECT_EQ(gatehouse_->Stop(SIGTERM, 10), 0) << gatehouse_->Log();
}

// An echo service with a connection held open through it.
class RunningEcho : public GatehouseTest {
 protected:
  ::testing::AssertionResult StartHolding(const std::string& main = "") {
    ::testing::AssertionResult started = Start(main, {{"echo.conf", kEcho}});
    if (!started) return started;
    port_ = Port("echo");
    held_ = ConnectTcp("127.0.0.1", port_);
    if (!Echoes("before\n")) return ::testing::AssertionFailure() << "no echo on " << port_;
    return started;
  }
  // One round trip on the held connection.
  bool Echoes(const std::string& line) {
    return write(held_, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
           ReadUntil(held_, line) == line;
  }
  void CloseHeld() {
    if (held_ >= 0) close(held_);
    held_ = -1;
  }
  void TearDown() override { CloseHeld(); }
  // Waits for the exit that a signal (or the last connection) brings; true on exit 0.
  bool ExitsCleanly(int signal, double timeout_seconds = 15) {
    int status = gatehouse_->Stop(signal, timeout_seconds);
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  int port_ = 0;
  int held_ = -1;
};

TEST_F(RunningEcho, TermLetsRunningConnectionsFinish) {
  ASSERT_TRUE(StartHolding());
  kill(gatehouse_->pid(), SIGTERM);
  ASSERT_TRUE(gatehouse_->WaitForLog("SIGTERM: no new connections")) << gatehouse_->Log();
  EXPECT_LT(ConnectTcp("127.0.0.1", port_), 0);  // the listener is closed
  EXPECT_TRUE(Echoes("after\n"));                // the running connection still works
  EXPECT_TRUE(gatehouse_->Running());
  CloseHeld();  // ... and when it ends, gatehouse exits 0
  EXPECT_TRUE(ExitsCleanly(0, 10)) << gatehouse_->Log();
}

TEST_F(RunningEcho, CtrlCToTheProcessGroupStillLetsConnectionsFinish) {
  ASSERT_TRUE(StartHolding());
  kill(-gatehouse_->pid(), SIGINT);  // what a terminal's Ctrl-C does
  ASSERT_TRUE(gatehouse_->WaitForLog("SIGINT: no new connections")) << gatehouse_->Log();
  EXPECT_TRUE(Echoes("after\n"));
  CloseHeld();
  EXPECT_TRUE(ExitsCleanly(0, 10)) << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Log().find("warning"), std::string::npos) << gatehouse_->Log();
}

TEST_F(RunningEcho, GracePeriodEndsStuckPrograms) {
  ASSERT_TRUE(StartHolding("shutdown_timeout = 1\n"));
  EXPECT_TRUE(ExitsCleanly(SIGTERM)) << gatehouse_->Log();
  EXPECT_EQ(ReadUntil(held_, "never", 5), "");  // the program was ended: EOF
}

TEST_F(RunningEcho, QuitEndsAtOnce) {
  ASSERT_TRUE(StartHolding("shutdown_timeout = 600\n"));
  EXPECT_TRUE(ExitsCleanly(SIGQUIT)) << gatehouse_->Log();
}

// A stop ends with exit 0 however many control signals arrive while it runs:
// a storm of TERM, INT, HUP, USR1 and USR2 until the process is gone (once
// the loop had ended, a late TERM used to find SIG_DFL and kill it).
TEST_F(RunningEcho, SignalsDuringAStopAreHarmless) {
  for (int round = 0; round < 25; ++round) {
    ASSERT_TRUE(StartHolding("shutdown_timeout = 1\n")) << "round " << round;
    // TERM first and seen, so that no USR2 can start an upgrade instead.
    LogMark before = gatehouse_->MarkLog();
    kill(gatehouse_->pid(), SIGTERM);
    ASSERT_TRUE(gatehouse_->WaitForLog("SIGTERM: no new connections", before, 10));
    CloseHeld();
    const int storm[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
    double deadline = MonotonicSeconds() + 20;
    uint64_t sent = 0;
    while (gatehouse_->Running() && MonotonicSeconds() < deadline) {
      kill(gatehouse_->pid(), storm[sent++ % 5]);
    }
    int status = gatehouse_->Stop(SIGTERM, 1);
    ASSERT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "round " << round << ": wait status " << status << " after " << sent << " signals\n"
        << gatehouse_->Log();
  }
}

TEST_F(RunningEcho, Usr1LogsStatusAndHupKeepsServing) {
  ASSERT_TRUE(StartHolding());
  kill(gatehouse_->pid(), SIGUSR1);
  std::vector<pid_t> children = ChildPids(gatehouse_->pid());
  ASSERT_EQ(children.size(), 1u);
  EXPECT_TRUE(gatehouse_->WaitForLog(
      "status: echo: mode fork, listeners 127.0.0.1:" + std::to_string(port_) + "/tcp, child " +
      std::to_string(children[0]) + " ready, programs 1 of 256, served 1, denied 0, failed 0"))
      << gatehouse_->Log();
  kill(gatehouse_->pid(), SIGHUP);
  EXPECT_TRUE(gatehouse_->WaitForLog("reloaded: 1 services on 1 listeners")) << gatehouse_->Log();
  EXPECT_TRUE(Echoes("after hup\n"));
  EXPECT_EQ(RunCommand({"nc", "-N", "127.0.0.1", std::to_string(port_)}, "new\n").out, "new\n");
}

TEST(Daemon, BackgroundWithPidFile) {
  TempDir dir;
  std::string pid_file = dir.path() + "/gatehouse.pid";
  std::string log = dir.path() + "/daemon.log";
  std::string config = WriteConfig(dir,
                                   "background = 1\nsetsid = 1\nlog_level = 3\nlog_file = " + log +
                                       "\npid_file = " + pid_file + "\n",
                                   {{"echo.conf", kEcho}});
  CommandResult launch = RunCommand({Gatehouse(), "--config", config}, "", 10);
  EXPECT_EQ(launch.exit_code, 0) << launch.err;  // the foreground part returns at once
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(log).find("echo: ready") != std::string::npos; }))
      << ReadFile(log);
  pid_t daemon = std::atoi(ReadFile(pid_file).c_str());
  ASSERT_GT(daemon, 1);
  EXPECT_EQ(kill(daemon, 0), 0);
  // It has its own session.
  std::string stat = ReadFile("/proc/" + std::to_string(daemon) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string state;
  long ppid, pgrp, session;
  fields >> state >> ppid >> pgrp >> session;
  EXPECT_EQ(session, daemon);

  std::smatch match;
  std::string text = ReadFile(log);
  ASSERT_TRUE(std::regex_search(text, match, std::regex("listening on 127.0.0.1:([0-9]+)")));
  EXPECT_EQ(RunCommand({"nc", "-N", "127.0.0.1", match[1]}, "daemon\n").out, "daemon\n");

  // A second start with the same pid_file refuses.
  TempDir dir2;
  std::string again = WriteConfig(dir2, "pid_file = " + pid_file + "\n", {{"echo.conf", kEcho}});
  CommandResult second = RunCommand({Gatehouse(), "--config", again}, "", 10);
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("which is still running"), std::string::npos) << second.err;

  kill(daemon, SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return kill(daemon, 0) != 0; }, 15));
  EXPECT_NE(access(pid_file.c_str(), F_OK), 0);  // removed on exit
}

TEST(Defaults, BuiltinEchoWithoutAConfigFile) {
  struct stat info {};
  if (stat("/etc/gatehouse/gatehouse.conf", &info) == 0) GTEST_SKIP() << "a system config exists";
  CommandResult check = RunCommand({Gatehouse(), "--check"});
  EXPECT_EQ(check.exit_code, 0);
  EXPECT_NE(check.out.find("port     127.0.0.1:20203/tcp"), std::string::npos) << check.out;

  // Served for real on a free port (the command line overrides the built-in port).
  TempDir dir;
  GatehouseProcess gatehouse({"--port", "127.0.0.1:0"}, dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();
  EXPECT_NE(gatehouse.Log().find("serving the built-in echo service"), std::string::npos);
  EXPECT_EQ(
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse.Port("echo"))}, "dflt\n").out,
      "dflt\n");
}

TEST(Children, ACrashedChildIsRestarted) {
  TempDir dir;
  std::string config = WriteConfig(dir, "", {{"echo.conf", kEcho}});
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started());
  ASSERT_TRUE(gatehouse.WaitForLog("echo: ready"));
  std::vector<pid_t> children = ChildPids(gatehouse.pid());
  ASSERT_EQ(children.size(), 1u);
  kill(children[0], SIGKILL);
  ASSERT_TRUE(gatehouse.WaitForLog("echo: child ended unexpectedly (signal Killed)"))
      << gatehouse.Log();
  ASSERT_TRUE(gatehouse.WaitForLog("echo: starting a new child in 1 s")) << gatehouse.Log();
  ASSERT_TRUE(WaitUntil([&] {
    std::vector<pid_t> now = ChildPids(gatehouse.pid());
    return now.size() == 1 && now[0] != children[0] &&
           gatehouse.Log().rfind("echo: ready") > gatehouse.Log().find("unexpectedly");
  })) << gatehouse.Log();
  EXPECT_EQ(
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse.Port("echo"))}, "back\n").out,
      "back\n");
}

// The host's dynamic loader as /bin/cat names it (PT_INTERP), e.g.
// /lib64/ld-linux-x86-64.so.2, and the file it leads to.
struct Loader {
  std::string path;
  std::string real_path;
};
Loader HostLoader() {
  int fd = open("/bin/cat", O_RDONLY | O_CLOEXEC);
  ExecInterpreter cat = ReadExecInterpreter(fd);
  close(fd);
  char* real = realpath(cat.path.c_str(), nullptr);
  Loader loader{cat.path, real ? real : cat.path};
  free(real);
  return loader;
}

void MakeDirs(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    mkdir(path.substr(0, slash).c_str(), 0755);
  }
  mkdir(path.c_str(), 0755);
}

std::string Dir(const std::string& path) { return path.substr(0, path.rfind('/')); }

// A jail holding a copy of /bin/cat and nothing it needs.
std::string CatJail(const TempDir& dir) {
  std::string jail = dir.path() + "/jail";
  MakeDirs(jail + "/bin");
  CopyExecutable("/bin/cat", jail + "/bin/cat");
  return jail;
}

CommandResult Check(const TempDir& dir, const std::string& jail, const std::string& exec) {
  std::string config = WriteConfig(
      dir, "",
      {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nchroot = " + jail + "\nexec = " + exec + "\n"}});
  return RunCommand({Gatehouse(), "--config", config, "--check"});
}

TEST(Children, ProgramWhoseLoaderIsNotInsideTheChrootIsAConfigError) {
  if (!IsRoot()) GTEST_SKIP() << "chroot needs root";
  TempDir dir;
  std::string jail = CatJail(dir);
  Loader loader = HostLoader();
  ASSERT_EQ(loader.path.rfind("/lib", 0), 0u) << loader.path;
  std::string expected = "services.d/echo.conf:4: exec: /bin/cat needs " + loader.path +
                         ", which is not inside chroot " + jail + "\n";
  CommandResult check = Check(dir, jail, "/bin/cat");
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.err.find(expected), std::string::npos) << check.err;
  // Nothing starts.
  std::string config = dir.path() + "/gatehouse.conf";
  CommandResult run = RunCommand({Gatehouse(), "--config", config}, "", 10);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find(expected), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("listening"), std::string::npos) << run.err;

  // The loader's name as an absolute link, as Debian lays it out, pointing to a
  // file the host has but the jail does not: it is read inside the jail.
  if (loader.real_path != loader.path) {
    MakeDirs(jail + Dir(loader.path));
    ASSERT_EQ(symlink(loader.real_path.c_str(), (jail + loader.path).c_str()), 0);
    check = Check(dir, jail, "/bin/cat");
    EXPECT_NE(check.err.find(expected), std::string::npos) << check.err;
  }
}

TEST(Children, AScriptNeedsItsInterpreterAndItsLoaderInsideTheChroot) {
  if (!IsRoot()) GTEST_SKIP() << "chroot needs root";
  TempDir dir;
  std::string jail = CatJail(dir);
  dir.Write("jail/run.sh", "#!/bin/sh\nexec cat\n");
  chmod((jail + "/run.sh").c_str(), 0755);
  CommandResult check = Check(dir, jail, "/run.sh");
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(
      check.err.find("exec: /run.sh needs /bin/sh, which is not inside chroot " + jail + "\n"),
      std::string::npos)
      << check.err;
  // /bin/sh there (Debian's dash is dynamic), its loader not.
  CopyExecutable("/bin/sh", jail + "/bin/sh");
  check = Check(dir, jail, "/run.sh");
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.err.find("exec: /bin/sh (the interpreter of /run.sh) needs " + HostLoader().path +
                           ", which is not inside chroot " + jail + "\n"),
            std::string::npos)
      << check.err;
}

TEST(Children, ProgramThatCannotRunInsideTheChrootIsLogged) {
  if (!IsRoot()) GTEST_SKIP() << "chroot needs root";
  TempDir dir;
  // The loader is inside the jail (behind Debian's absolute link), so --check
  // passes; the C library is not, and the loader says so when a client comes.
  std::string jail = CatJail(dir);
  Loader loader = HostLoader();
  MakeDirs(jail + Dir(loader.real_path));
  CopyExecutable(loader.real_path, jail + loader.real_path);
  if (loader.real_path != loader.path) {
    MakeDirs(jail + Dir(loader.path));
    ASSERT_EQ(symlink(loader.real_path.c_str(), (jail + loader.path).c_str()), 0);
  }
  CommandResult check = Check(dir, jail, "/bin/cat");
  ASSERT_EQ(check.exit_code, 0) << check.err;
  GatehouseProcess gatehouse({"--config", dir.path() + "/gatehouse.conf"},
                             dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();
  CommandResult client =
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse.Port("echo"))}, "x\n");
  EXPECT_EQ(client.out, "");  // closed at once, not left hanging
  // The loader's own words, labelled, and the failed exit at the default log_level.
  EXPECT_TRUE(gatehouse.WaitForLog("error while loading shared libraries: libc.so.6", 10))
      << gatehouse.Log();
  EXPECT_TRUE(gatehouse.WaitForLog(" exit 127 after ", 10)) << gatehouse.Log();
  EXPECT_NE(gatehouse.Log().find("notice: echo: exit 127.0.0.1:"), std::string::npos)
      << gatehouse.Log();
  EXPECT_TRUE(gatehouse.Running());
}

// A loader that goes missing after the start: the connection fails with the
// same words --check uses, not with a bare "No such file or directory" about a
// file that is there.
TEST(Children, ALoaderGoneAtRunTimeIsNamedAsCheckNamesIt) {
  if (!IsRoot()) GTEST_SKIP() << "chroot needs root";
  TempDir dir;
  std::string jail = CatJail(dir);
  Loader loader = HostLoader();
  MakeDirs(jail + Dir(loader.path));
  CopyExecutable(loader.real_path, jail + loader.path);
  ASSERT_EQ(Check(dir, jail, "/bin/cat").exit_code, 0);
  GatehouseProcess gatehouse({"--config", dir.path() + "/gatehouse.conf"},
                             dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();
  ASSERT_TRUE(gatehouse.WaitForLog("echo: ready"));
  ASSERT_EQ(unlink((jail + loader.path).c_str()), 0);
  CommandResult client =
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse.Port("echo"))}, "x\n");
  EXPECT_EQ(client.out, "");
  EXPECT_TRUE(gatehouse.WaitForLog("cannot run program: exec: /bin/cat needs " + loader.path +
                                   ", which is not inside chroot " + jail))
      << gatehouse.Log();
}

TEST(Children, AWorkingDirectoryGoneAtRunTimeFailsTheConnectionWithItsReason) {
  TempDir dir;
  TempDir world("/tmp");  // the service's uid can reach it (Bazel's tree is root's)
  std::string work = world.path() + "/work";
  ASSERT_EQ(mkdir(work.c_str(), 0755), 0);
  std::string config = WriteConfig(
      dir, "",
      {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\nchdir = " + work + "\n"}});
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started());
  std::string port = std::to_string(gatehouse.Port("echo"));
  EXPECT_EQ(RunCommand({"nc", "-N", "127.0.0.1", port}, "x\n").out, "x\n");
  // Checked when the child started; gone now: the exec stage says which step failed.
  ASSERT_EQ(rmdir(work.c_str()), 0);
  LogMark mark = gatehouse.MarkLog();
  EXPECT_EQ(RunCommand({"nc", "-N", "127.0.0.1", port}, "x\n").out, "");
  EXPECT_TRUE(gatehouse.WaitForLog(
      "cannot run program: chdir " + work + ": No such file or directory", mark, 10))
      << gatehouse.Log();
  EXPECT_TRUE(gatehouse.Running());
}

}  // namespace
}  // namespace gatehouse::testing
