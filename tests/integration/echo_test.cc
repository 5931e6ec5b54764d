// The first end-to-end path: a real client connects, the supervisor accepts and
// hands the fd to the child, the child runs /bin/cat on it.
#include <gtest/gtest.h>
#include <unistd.h>

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
  // Nothing of gatehouse's own environment leaks through.
  EXPECT_EQ(env.find("TEST_TMPDIR"), std::string::npos) << env;
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
  EXPECT_NE(log.find("info: echo: exit 127.0.0.1:"), std::string::npos) << log;
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
