// log_file = Sys::Syslog, read from a /dev/log of the test's own: gatehouse runs
// in a mount namespace where /dev is a fresh tmpfs (null, zero, urandom bound
// from the real one) and socat receives the syslog datagrams into a file. That
// /dev has no /dev/fd either, as in some minimal containers: children must start.
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

TEST(Syslog, LinesGoToSyslogWithIdentAndFacility) {
  if (!IsRoot()) GTEST_SKIP() << "mount namespaces need root";
  TempDir dir;
  std::string config =
      WriteConfig(dir,
                  "log_file = Sys::Syslog\nsyslog_ident = ghtest\nsyslog_facility = local3\n"
                  "syslog_logopt = pid\nlog_level = 3\n",
                  {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
  std::string syslog = dir.path() + "/syslog.txt";
  std::string stderr_log = dir.path() + "/stderr.log";
  GatehouseProcess::Launch launch;
  launch.wrapper = PrivateDevLogWrapper(dir.path());
  launch.ready_file = syslog;  // stderr stays empty with syslog
  GatehouseProcess gatehouse({"--config", config}, stderr_log, launch);
  ASSERT_TRUE(gatehouse.started()) << ReadFile(syslog) << ReadFile(stderr_log);
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(syslog).find("echo: ready") != std::string::npos; }))
      << ReadFile(syslog) << ReadFile(stderr_log);
  std::string lines = ReadFile(syslog);
  // <PRI> = local3 (19) * 8 + notice (5) = 157; ident and pid as asked.
  std::string ident = "ghtest[" + std::to_string(gatehouse.pid()) + "]: ";
  EXPECT_NE(lines.find("<157>"), std::string::npos) << lines;
  EXPECT_NE(lines.find(ident + "echo: listening on 127.0.0.1:"), std::string::npos) << lines;
  EXPECT_EQ(ReadFile(stderr_log).find("listening"), std::string::npos);  // not on stderr

  std::smatch match;
  ASSERT_TRUE(std::regex_search(lines, match, std::regex("listening on 127.0.0.1:([0-9]+)")));
  EXPECT_EQ(RunCommand({"nc", "-N", "127.0.0.1", match[1]}, "via syslog\n").out, "via syslog\n");
  // Connection lines are info (6): <158>.
  EXPECT_TRUE(WaitUntil([&] {
    std::string now = ReadFile(syslog);
    return now.find("<158>") != std::string::npos &&
           now.find(ident + "echo: exit 127.0.0.1:") != std::string::npos;
  })) << ReadFile(syslog);

  std::vector<pid_t> syslogd;  // the socat that plays syslogd (under `timeout`)
  for (pid_t pid : ChildPids(gatehouse.pid())) {
    if (ReadFile("/proc/" + std::to_string(pid) + "/comm").rfind("timeout", 0) == 0) {
      syslogd.push_back(pid);
    }
  }
  int status = gatehouse.Stop(SIGTERM, 20);
  EXPECT_EQ(status, 0) << ReadFile(syslog);
  EXPECT_TRUE(WaitUntil([&] {
    return ReadFile(syslog).find(ident + "stopped") != std::string::npos;
  })) << ReadFile(syslog);
  for (pid_t pid : syslogd) kill(pid, SIGTERM);
}

}  // namespace
}  // namespace gatehouse::testing
