// Nothing outlives gatehouse: programs orphaned by a child that died (they are
// the supervisor's as the subreaper) get TERM, then KILL, on shutdown, and
// gatehouse exits only when none is left.
#include <signal.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

bool Alive(pid_t pid) {
  // A zombie is gone for our purpose: it runs nothing.
  std::string state = ProcStatusField(pid, "State");
  return !state.empty() && state[0] != 'Z';
}

TEST(Shutdown, OrphanedProgramsEndBeforeGatehouseExits) {
  TempDir dir;
  // Programs that ignore TERM: only KILL ends them.
  std::string config = WriteConfig(
      dir, "shutdown_timeout = 1\n",
      {{"hold.conf",
        "[hold]\nport = 127.0.0.1:0\nexec = /bin/sh\nargs = -c 'trap \"\" TERM; exec cat'\n"}});
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();
  ASSERT_TRUE(gatehouse.WaitForLog("hold: ready"));
  int port = gatehouse.Port("hold");
  std::vector<pid_t> children = ChildPids(gatehouse.pid());
  ASSERT_EQ(children.size(), 1u);

  std::vector<int> connections;
  for (int i = 0; i < 20; ++i) {
    int fd = ConnectTcp("127.0.0.1", port);
    ASSERT_GE(fd, 0);
    connections.push_back(fd);
  }
  std::vector<pid_t> programs;
  ASSERT_TRUE(WaitUntil([&] {
    programs = ChildPids(children[0]);
    return programs.size() == 20;
  })) << programs.size() << " programs\n" << gatehouse.Log();

  kill(children[0], SIGKILL);
  // The programs are now the supervisor's (subreaper), still running.
  ASSERT_TRUE(WaitUntil([&] { return ParentPid(programs[0]) == gatehouse.pid(); }));

  EXPECT_EQ(gatehouse.Stop(SIGTERM, 20), 0) << gatehouse.Log();
  for (pid_t program : programs) EXPECT_FALSE(Alive(program)) << "program " << program;
  EXPECT_NE(gatehouse.Log().find("KILL to "), std::string::npos) << gatehouse.Log();
  for (int fd : connections) close(fd);
}

}  // namespace
}  // namespace gatehouse::testing
