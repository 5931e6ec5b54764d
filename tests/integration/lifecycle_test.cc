// The supervisor's life: --check, refusing a bad config, graceful and forced
// stops, pid_file and background, the built-in default, and a child restart.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

const char* kEcho = "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n";

std::string Gatehouse() { return Runfile("supervisor/gatehouse"); }

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

TEST(Stop, TermLetsRunningConnectionsFinish) {
  TempDir dir;
  std::string config = WriteConfig(dir, "", {{"echo.conf", kEcho}});
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started());
  int port = gatehouse.Port("echo");
  int held = ConnectTcp("127.0.0.1", port);
  ASSERT_GE(held, 0);
  ASSERT_EQ(write(held, "before\n", 7), 7);
  EXPECT_EQ(ReadUntil(held, "before\n"), "before\n");

  kill(gatehouse.pid(), SIGTERM);
  ASSERT_TRUE(gatehouse.WaitForLog("SIGTERM: no new connections")) << gatehouse.Log();
  EXPECT_LT(ConnectTcp("127.0.0.1", port), 0);  // the listener is closed
  // The running connection still works...
  ASSERT_EQ(write(held, "after\n", 6), 6);
  EXPECT_EQ(ReadUntil(held, "after\n"), "after\n");
  EXPECT_TRUE(gatehouse.Running());
  // ... and when it ends, gatehouse exits 0.
  close(held);
  int status = gatehouse.Stop(0, 10);  // signal 0: just wait
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Stop, CtrlCToTheProcessGroupStillLetsConnectionsFinish) {
  TempDir dir;
  std::string config = WriteConfig(dir, "", {{"echo.conf", kEcho}});
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started());
  ASSERT_TRUE(gatehouse.WaitForLog("echo: ready"));
  int held = ConnectTcp("127.0.0.1", gatehouse.Port("echo"));
  ASSERT_EQ(write(held, "one\n", 4), 4);
  EXPECT_EQ(ReadUntil(held, "one\n"), "one\n");
  kill(-gatehouse.pid(), SIGINT);  // what a terminal's Ctrl-C does
  ASSERT_TRUE(gatehouse.WaitForLog("SIGINT: no new connections")) << gatehouse.Log();
  ASSERT_EQ(write(held, "two\n", 4), 4);
  EXPECT_EQ(ReadUntil(held, "two\n"), "two\n");
  close(held);
  int status = gatehouse.Stop(0, 10);
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(gatehouse.Log().find("warning"), std::string::npos) << gatehouse.Log();
}

TEST(Stop, GracePeriodEndsStuckPrograms) {
  TempDir dir;
  std::string config = WriteConfig(dir, "shutdown_timeout = 1\n", {{"echo.conf", kEcho}});
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started());
  int held = ConnectTcp("127.0.0.1", gatehouse.Port("echo"));
  ASSERT_EQ(write(held, "x\n", 2), 2);
  EXPECT_EQ(ReadUntil(held, "x\n"), "x\n");
  int status = gatehouse.Stop(SIGTERM, 15);
  ASSERT_NE(status, -1) << gatehouse.Log();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(ReadUntil(held, "never", 5), "");  // the program was ended: EOF
  close(held);
}

TEST(Stop, QuitEndsAtOnce) {
  TempDir dir;
  std::string config = WriteConfig(dir, "shutdown_timeout = 600\n", {{"echo.conf", kEcho}});
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started());
  int held = ConnectTcp("127.0.0.1", gatehouse.Port("echo"));
  ASSERT_EQ(write(held, "x\n", 2), 2);
  EXPECT_EQ(ReadUntil(held, "x\n"), "x\n");
  int status = gatehouse.Stop(SIGQUIT, 15);
  ASSERT_NE(status, -1) << gatehouse.Log();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(held);
}

TEST(Signals, Usr1LogsStatusAndHupKeepsServing) {
  TempDir dir;
  std::string config = WriteConfig(dir, "", {{"echo.conf", kEcho}});
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started());
  ASSERT_TRUE(gatehouse.WaitForLog("echo: ready"));
  int held = ConnectTcp("127.0.0.1", gatehouse.Port("echo"));
  ASSERT_EQ(write(held, "x\n", 2), 2);
  EXPECT_EQ(ReadUntil(held, "x\n"), "x\n");
  kill(gatehouse.pid(), SIGUSR1);
  std::vector<pid_t> children = ChildPids(gatehouse.pid());
  ASSERT_EQ(children.size(), 1u);
  EXPECT_TRUE(gatehouse.WaitForLog("status: echo: child pid " + std::to_string(children[0]) +
                                   ", 1 connections running"))
      << gatehouse.Log();
  close(held);

  kill(gatehouse.pid(), SIGHUP);
  EXPECT_TRUE(gatehouse.WaitForLog("SIGHUP: reloading is not implemented yet")) << gatehouse.Log();
  EXPECT_EQ(
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse.Port("echo"))}, "hup\n").out,
      "hup\n");
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

TEST(Children, ProgramThatCannotRunInsideTheChrootIsLogged) {
  if (!IsRoot()) GTEST_SKIP() << "chroot needs root";
  TempDir dir;
  std::string jail = dir.path() + "/jail";
  mkdir(jail.c_str(), 0755);
  mkdir((jail + "/bin").c_str(), 0755);
  // Present for --check (a file), but a dynamic binary: no libc inside the jail.
  std::ifstream in("/bin/cat", std::ios::binary);
  std::ofstream(jail + "/bin/cat", std::ios::binary) << in.rdbuf();
  chmod((jail + "/bin/cat").c_str(), 0755);
  std::string config = WriteConfig(
      dir, "",
      {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nchroot = " + jail + "\nexec = /bin/cat\n"}});
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started());
  CommandResult client =
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse.Port("echo"))}, "x\n");
  EXPECT_EQ(client.out, "");  // closed at once, not left hanging
  // The kernel finds no ELF interpreter (ld.so) in the jail: exec fails with ENOENT.
  EXPECT_TRUE(gatehouse.WaitForLog("err: echo: 127.0.0.1:", 10)) << gatehouse.Log();
  EXPECT_NE(gatehouse.Log().find("cannot run program: /bin/cat: No such file or directory"),
            std::string::npos)
      << gatehouse.Log();
  EXPECT_TRUE(gatehouse.Running());
}

}  // namespace
}  // namespace gatehouse::testing
