// Nothing outlives gatehouse. With namespaces (root) a killed child takes its
// whole service namespace with it. Without them (an ordinary user), programs
// orphaned by a child that died are the supervisor's as the subreaper: they get
// TERM, then KILL, on shutdown, and gatehouse exits only when none is left.
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

TEST_F(Shutdown, AKilledChildTakesItsWholeNamespaceWithIt) {
  if (!IsRoot()) GTEST_SKIP() << "namespaces need root";
  ASSERT_TRUE(Start("shutdown_timeout = 1\n", {{"hold.conf", kHold}}));
  std::vector<pid_t> holders = ChildPids(gatehouse_->pid());
  ASSERT_EQ(holders.size(), 1u);
  std::vector<pid_t> inits = ChildPids(holders[0]);
  ASSERT_EQ(inits.size(), 1u) << "no namespace init";
  std::vector<pid_t> programs = HoldTwentyPrograms(inits[0]);
  ASSERT_EQ(programs.size(), 20u);

  kill(holders[0], SIGKILL);
  // The namespace's init dies with the holder, and the kernel ends everything in it.
  EXPECT_TRUE(WaitUntil([&] {
    for (pid_t program : programs) {
      if (Alive(program)) return false;
    }
    return !Alive(inits[0]);
  })) << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Stop(SIGTERM, 20), 0) << gatehouse_->Log();
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
