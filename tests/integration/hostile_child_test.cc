// The supervisor trusts nothing from a child: garbage, reports about connections
// it never sent, fds where none belong, a second Ready. Each ends that child
// (which is then restarted), and the other services go on serving.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

TEST(HostileChild, ProtocolViolationsEndOnlyThatChild) {
  // gatehouse looks for gatehouse-child beside itself: put the hostile one there.
  TempDir dir;
  CopyExecutable(Runfile("supervisor/gatehouse"), dir.path() + "/gatehouse");
  CopyExecutable(Runfile("tests/programs/hostile_child"), dir.path() + "/gatehouse-child");
  CopyExecutable(Runfile("child/gatehouse-child"), dir.path() + "/gatehouse-child.real");
  std::map<std::string, std::string> services;
  for (const char* name : {"echo", "garbage", "unknown", "fdreport", "twiceready", "fatalflood"}) {
    services[std::string(name) + ".conf"] =
        std::string("[") + name + "]\nport = 127.0.0.1:0\nexec = /bin/cat\n";
  }
  std::string config = WriteConfig(dir, "log_level = 3\n", services);
  std::string log = dir.path() + "/gatehouse.log";
  GatehouseProcess::Launch launch;
  launch.binary = dir.path() + "/gatehouse";
  GatehouseProcess gatehouse({"--config", config}, log, launch);
  ASSERT_TRUE(gatehouse.started()) << ReadFile(log);
  auto log_has = [&](const std::string& text) {
    return WaitUntil([&] { return ReadFile(log).find(text) != std::string::npos; });
  };
  EXPECT_TRUE(log_has("garbage: child channel: protocol violation: bad header; ending the child"))
      << ReadFile(log);
  EXPECT_TRUE(log_has("unknown: child broke the protocol (ProgramStarted for unknown connection)"))
      << ReadFile(log);
  EXPECT_TRUE(
      log_has("fdreport: child channel: protocol violation: Ready carried 1 fds, expected 0"))
      << ReadFile(log);
  EXPECT_TRUE(log_has("twiceready: child broke the protocol (unexpected Ready)")) << ReadFile(log);
  EXPECT_TRUE(log_has("fatalflood: child broke the protocol (a message after Fatal)"))
      << ReadFile(log);
  EXPECT_TRUE(log_has("garbage: starting a new child in 1 s")) << ReadFile(log);

  // The well-behaved service is untouched.
  ASSERT_TRUE(log_has("echo: ready"));
  EXPECT_EQ(
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(gatehouse.Port("echo"))}, "still here\n")
          .out,
      "still here\n");
  EXPECT_TRUE(gatehouse.Running());
  int status = gatehouse.Stop(SIGTERM);
  EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(log);
}

}  // namespace
}  // namespace gatehouse::testing
