// Nothing outlives gatehouse. Programs orphaned by a child that died run on as
// the supervisor's (the subreaper's), with namespaces (root) in a namespace kept
// for them, without (an ordinary user) as they are: they get TERM, then KILL, on
// shutdown, and gatehouse exits only when none is left.
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

// Programs that ignore TERM: only KILL ends them.
constexpr const char* kHold =
    "[hold]\nport = 127.0.0.1:0\nexec = /bin/sh\nargs = -c 'trap \"\" TERM; exec cat'\n";

class Shutdown : public GatehouseTest {
 protected:
  // Opens 20 connections to [hold] and returns its programs, the children of
  // `parent` (the service's serving process).
  std::vector<pid_t> HoldTwentyPrograms(pid_t parent) {
    for (int i = 0; i < 20; ++i) {
      int fd = ConnectTcp("127.0.0.1", Port("hold"));
      EXPECT_GE(fd, 0);
      connections_.push_back(fd);
    }
    std::vector<pid_t> programs;
    EXPECT_TRUE(WaitUntil([&] {
      programs = ChildPids(parent);
      return programs.size() == 20;
    })) << programs.size()
        << " programs\n"
        << gatehouse_->Log();
    return programs;
  }
  void TearDown() override {
    for (int fd : connections_) close(fd);
  }
  std::vector<int> connections_;
};

TEST_F(Shutdown, AKilledChildsProgramsRunOnAndEndWhenGatehouseStops) {
  if (!IsRoot()) GTEST_SKIP() << "namespaces need root";
  ASSERT_TRUE(Start("shutdown_timeout = 1\n", {{"hold.conf", kHold}}));
  std::vector<pid_t> children = ChildPids(gatehouse_->pid());
  ASSERT_EQ(children.size(), 1u);
  pid_t keeper = KeeperOf(children[0]);
  ASSERT_GT(keeper, 0) << "no namespace keeper";
  std::vector<pid_t> programs;
  for (int i = 0; i < 20; ++i) {
    int fd = ConnectTcp("127.0.0.1", Port("hold"));
    ASSERT_GE(fd, 0);
    connections_.push_back(fd);
  }
  ASSERT_TRUE(WaitUntil([&] { return (programs = ProgramsOf(children[0])).size() == 20; }))
      << programs.size() << " programs\n"
      << gatehouse_->Log();

  kill(children[0], SIGKILL);
  // The programs and their namespace's keeper are ours now (the subreaper's), still running.
  ASSERT_TRUE(WaitUntil([&] { return ParentPid(programs[0]) == gatehouse_->pid(); }))
      << gatehouse_->Log();
  for (pid_t program : programs) EXPECT_TRUE(Alive(program)) << "program " << program;
  EXPECT_TRUE(Alive(keeper));

  // Programs that ignore TERM: KILLed, and only then does gatehouse exit.
  EXPECT_EQ(gatehouse_->Stop(SIGTERM, 20), 0) << gatehouse_->Log();
  for (pid_t program : programs) EXPECT_FALSE(Alive(program)) << "program " << program;
  EXPECT_FALSE(Alive(keeper));
  EXPECT_NE(gatehouse_->Log().find("KILL to "), std::string::npos) << gatehouse_->Log();
}

TEST_F(Shutdown, OrphanedProgramsEndBeforeGatehouseExits) {
  if (!IsRoot()) GTEST_SKIP() << "setpriv needs root";
  // An ordinary user's gatehouse has no namespaces: its programs outlive a killed
  // child as orphans. Everything sits in a folder nobody can read.
  TempDir world("/tmp");
  CopyExecutable(Runfile("supervisor/gatehouse"), world.path() + "/gatehouse");
  CopyExecutable(Runfile("child/gatehouse-child"), world.path() + "/gatehouse-child");
  std::string config = WriteConfig(world, "shutdown_timeout = 1\n", {{"hold.conf", kHold}});
  log_path_ = world.path() + "/gatehouse.log";
  GatehouseProcess::Launch launch;
  launch.wrapper = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  launch.binary = world.path() + "/gatehouse";
  ASSERT_TRUE(StartWithArgs({"--config", config}, {"hold"}, launch));
  std::vector<pid_t> children = ChildPids(gatehouse_->pid());
  ASSERT_EQ(children.size(), 1u);
  std::vector<pid_t> programs = HoldTwentyPrograms(children[0]);
  ASSERT_EQ(programs.size(), 20u);

  kill(children[0], SIGKILL);
  // The programs are now the supervisor's (subreaper), still running.
  ASSERT_TRUE(WaitUntil([&] { return ParentPid(programs[0]) == gatehouse_->pid(); }));
  EXPECT_TRUE(Alive(programs[0]));

  EXPECT_EQ(gatehouse_->Stop(SIGTERM, 20), 0) << gatehouse_->Log();
  for (pid_t program : programs) EXPECT_FALSE(Alive(program)) << "program " << program;
  EXPECT_NE(gatehouse_->Log().find("KILL to "), std::string::npos) << gatehouse_->Log();
}

}  // namespace
}  // namespace gatehouse::testing
