// The first end-to-end path: a real client connects, the supervisor accepts and
// hands the fd to the child, the child runs /bin/cat on it.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <regex>
#include <set>
#include <sstream>

#include "common/config.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

class EchoTest : public GatehouseTest {
 protected:
  ::testing::AssertionResult StartWith(const std::string& service,
                                       const std::string& main = "log_level = 3\n") {
    return Start(main, {{"echo.conf", service}});
  }
  void StopAndExpectSocketGone(const std::string& path) {
    EXPECT_EQ(gatehouse_->Stop(SIGTERM), 0);
    EXPECT_NE(access(path.c_str(), F_OK), 0) << path;
  }
};

TEST_F(EchoTest, NcGetsItsBytesBackThroughCat) {
  ASSERT_TRUE(StartWith("[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"));
  int port = gatehouse_->Port("echo");
  ASSERT_GT(port, 0) << gatehouse_->Log();
  CommandResult result =
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(port)}, "hello gatehouse\nsecond line\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "hello gatehouse\nsecond line\n");
}

TEST_F(EchoTest, SocatGetsALargePayloadBack) {
  ASSERT_TRUE(StartWith("[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"));
  std::string payload;
  for (int i = 0; i < 20000; ++i) payload += "line " + std::to_string(i) + "\n";  // ~200 KB
  CommandResult result = RunCommand(
      {"socat", "-t", "5", "-", "TCP:127.0.0.1:" + std::to_string(gatehouse_->Port("echo"))},
      payload);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.size(), payload.size());
  EXPECT_TRUE(result.out == payload);
}

TEST_F(EchoTest, Ipv6Loopback) {
  ASSERT_TRUE(StartWith("[echo]\nport = [::1]:0\nexec = /bin/cat\n"));
  int port = gatehouse_->Port("echo", "6");
  ASSERT_GT(port, 0) << gatehouse_->Log();
  CommandResult result = RunCommand({"nc", "-N", "::1", std::to_string(port)}, "over v6\n");
  EXPECT_EQ(result.out, "over v6\n") << result.err;
  EXPECT_TRUE(gatehouse_->WaitForLog("echo: exit [::1]:")) << gatehouse_->Log();
}

TEST_F(EchoTest, UnixSocketService) {
  TempDir short_dir("/tmp");  // sun_path holds 107 bytes; $TEST_TMPDIR is longer
  std::string path = short_dir.path() + "/echo.sock";
  ASSERT_TRUE(StartWith("[echo]\nport = " + path + "|unix\nexec = /bin/cat\n"));
  CommandResult nc = RunCommand({"nc", "-N", "-U", path}, "over unix\n");
  EXPECT_EQ(nc.out, "over unix\n") << nc.err;
  CommandResult socat = RunCommand({"socat", "-t", "5", "-", "UNIX-CONNECT:" + path}, "again\n");
  EXPECT_EQ(socat.out, "again\n") << socat.err;
  // The socket file goes away with gatehouse.
  StopAndExpectSocketGone(path);
}

TEST_F(EchoTest, UnixPeersGetTheirCredentialsInTheEnvironment) {
  TempDir short_dir("/tmp");
  std::string path = short_dir.path() + "/env.sock";
  ASSERT_TRUE(StartWith("[echo]\nport = " + path + "|unix\nexec = /usr/bin/env\n"));
  CommandResult result = RunCommand({"socat", "-t", "5", "-", "UNIX-CONNECT:" + path});
  EXPECT_NE(result.out.find("PROTO=UNIX\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("UNIXREMOTEEUID=" + std::to_string(geteuid()) + "\n"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("UNIXREMOTEPID="), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("TCPREMOTEIP"), std::string::npos) << result.out;
  StopAndExpectSocketGone(path);
}

// The names of `env`'s output, one NAME=value a line.
std::set<std::string> EnvNames(const std::string& env) {
  std::set<std::string> names;
  std::istringstream lines(env);
  std::string line;
  while (std::getline(lines, line)) names.insert(line.substr(0, line.find('=')));
  return names;
}

TEST_F(EchoTest, ProgramsGetTheUcspiEnvironmentAndNothingElse) {
  ASSERT_TRUE(
      StartWith("[echo]\nport = 127.0.0.1:0\nexec = /usr/bin/env\nenv = GREETING=hello world\n"));
  int port = gatehouse_->Port("echo");
  // No input: env does not read, and unread input would make the kernel reset
  // the connection (RST) before nc has read env's output.
  CommandResult result = RunCommand({"nc", "-N", "127.0.0.1", std::to_string(port)});
  const std::string& env = result.out;
  EXPECT_NE(env.find("PROTO=TCP\n"), std::string::npos) << env;
  EXPECT_NE(env.find("TCPREMOTEIP=127.0.0.1\n"), std::string::npos) << env;
  EXPECT_NE(env.find("TCPREMOTEPORT="), std::string::npos) << env;
  EXPECT_NE(env.find("TCPLOCALIP=127.0.0.1\n"), std::string::npos) << env;
  EXPECT_NE(env.find("TCPLOCALPORT=" + std::to_string(port) + "\n"), std::string::npos) << env;
  EXPECT_NE(env.find("REMOTE_HOST=127.0.0.1\n"), std::string::npos) << env;
  EXPECT_NE(env.find("GREETING=hello world\n"), std::string::npos) << env;
  EXPECT_NE(env.find("PATH=/usr/local/bin:/usr/bin:/bin\n"), std::string::npos) << env;
  // The login variables of the user the program runs as: as root a service
  // without `user` has a uid of its own and no passwd entry, so the number, HOME
  // /, and no SHELL; otherwise gatehouse's own user.
  std::string user = std::to_string(IsRoot() ? DynamicServiceUid("echo") : geteuid());
  std::string home = "/";
  std::set<std::string> expected = {"PROTO",        "TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP",
                                    "TCPLOCALPORT", "REMOTE_HOST", "GREETING",      "PATH",
                                    "USER",         "LOGNAME",     "HOME"};
  if (!IsRoot()) {
    if (passwd* self = getpwuid(geteuid())) {
      user = self->pw_name;
      home = *self->pw_dir ? self->pw_dir : "/";
      if (*self->pw_shell) expected.insert("SHELL");
    }
  }
  EXPECT_NE(env.find("USER=" + user + "\n"), std::string::npos) << env;
  EXPECT_NE(env.find("LOGNAME=" + user + "\n"), std::string::npos) << env;
  EXPECT_NE(env.find("HOME=" + home + "\n"), std::string::npos) << env;
  // Nothing else, and nothing of gatehouse's own environment (TEST_TMPDIR, ...).
  EXPECT_EQ(EnvNames(env), expected) << env;
}

TEST_F(EchoTest, ANamedUserGetsItsPasswdEntryAndEnvOverridesIt) {
  if (!IsRoot()) GTEST_SKIP() << "user = nobody needs root";
  passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ASSERT_NE(*nobody->pw_shell, '\0');
  std::string shell = nobody->pw_shell;
  ASSERT_TRUE(StartWith(
      "[echo]\nport = 127.0.0.1:0\nexec = /usr/bin/env\nuser = nobody\nenv = HOME=/srv/mine\n"));
  CommandResult result =
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse_->Port("echo"))});
  const std::string& env = result.out;
  EXPECT_NE(env.find("USER=nobody\n"), std::string::npos) << env;
  EXPECT_NE(env.find("LOGNAME=nobody\n"), std::string::npos) << env;
  EXPECT_NE(env.find("SHELL=" + shell + "\n"), std::string::npos) << env;
  // env= wins over passwd's /nonexistent, and HOME is there once.
  EXPECT_NE(env.find("HOME=/srv/mine\n"), std::string::npos) << env;
  EXPECT_EQ(env.find("HOME="), env.rfind("HOME=")) << env;
}

TEST_F(EchoTest, ReverseLookupSetsTcpRemoteHost) {
  ASSERT_TRUE(StartWith("[echo]\nport = 127.0.0.1:0\nexec = /usr/bin/env\nreverse_lookups = 1\n"));
  CommandResult result =
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse_->Port("echo"))});
  // /etc/hosts names 127.0.0.1 "localhost" on every Debian machine.
  EXPECT_NE(result.out.find("TCPREMOTEHOST=localhost\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("REMOTE_HOST=localhost\n"), std::string::npos) << result.out;
}

TEST_F(EchoTest, OneLogLinePerStartAndExit) {
  ASSERT_TRUE(StartWith("[echo]\nport = 127.0.0.1:0\nexec = /bin/sh\nargs = -c 'cat; exit 3'\n"));
  RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse_->Port("echo"))}, "x\n");
  ASSERT_TRUE(gatehouse_->WaitForLog(" exit 3 after ")) << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  EXPECT_NE(log.find("info: echo: start 127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find("notice: echo: exit 127.0.0.1:"), std::string::npos) << log;
}

TEST_F(EchoTest, AFailedProgramIsOneNoticeLineAtTheDefaultLevel) {
  // The client says which status its program exits with: first 0, then 3.
  ASSERT_TRUE(StartWith(
      "[echo]\nport = 127.0.0.1:0\nexec = /bin/sh\nargs = -c 'read code; exit $code'\n", ""));
  std::string port = std::to_string(gatehouse_->Port("echo"));
  CommandResult clean = RunCommand({"nc", "-N", "127.0.0.1", port}, "0\n");
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  RunCommand({"nc", "-N", "127.0.0.1", port}, "3\n");
  ASSERT_TRUE(gatehouse_->WaitForLog(" exit 3 after ")) << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  // Service, peer, pid, status and duration on one notice line.
  std::smatch line;
  ASSERT_TRUE(std::regex_search(
      log, line,
      std::regex(R"( notice: echo: exit 127\.0\.0\.1:\d+ pid (\d+) exit 3 after \d+\.\d{3} s\n)")))
      << log;
  // The clean exit (which came first) left no line at this level, nor did the starts.
  EXPECT_EQ(log.find("echo: exit"), static_cast<size_t>(line.position(0)) + 9) << log;
  EXPECT_EQ(log.find(" exit 0 after "), std::string::npos) << log;
  EXPECT_EQ(log.find("echo: start"), std::string::npos) << log;
}

TEST_F(EchoTest, ProgramStderrGoesToTheLogFile) {
  std::string log_file = dir_.path() + "/service.log";
  log_path_ = log_file;
  ASSERT_TRUE(StartWith(
      "[echo]\nport = 127.0.0.1:0\nexec = /bin/sh\nargs = -c 'echo oops-from-program >&2'\n",
      "log_level = 3\nlog_file = " + log_file + "\n"));
  RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse_->Port("echo"))}, "x\n");
  // It arrives through gatehouse, as its line labelled with the service and pid.
  EXPECT_TRUE(WaitUntil([&] {
    return ReadFile(log_file).find("]: oops-from-program\n") != std::string::npos;
  })) << ReadFile(log_file);
  std::string log = ReadFile(log_file);
  size_t line = log.rfind('\n', log.find("oops-from-program")) + 1;
  EXPECT_EQ(log.compare(line + 24, 11, " gatehouse["), 0) << log.substr(line);
  EXPECT_NE(log.find(" notice: echo[", line), std::string::npos) << log.substr(line);
  EXPECT_NE(log.find("echo: ready"), std::string::npos);
}

}  // namespace
}  // namespace gatehouse::testing
