// Services are isolated from each other and from their own child: a hostile
// program (tests/programs/attacker) tries to signal, trace and read the
// supervisor, its own gatehouse-child, and another service's child and
// program. Every attempt is refused or has no effect; everything keeps serving.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// gatehouse-child processes of `service` below `parent` (the serving child
// outside the namespace, and below it the namespace's keeper, its pid 1).
std::vector<pid_t> ChildrenNamed(pid_t parent, const std::string& service) {
  std::vector<pid_t> found;
  for (pid_t pid : ChildPids(parent)) {
    std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
    if (cmdline.find("gatehouse-child") != std::string::npos &&
        cmdline.find(service) != std::string::npos) {
      found.push_back(pid);
    }
  }
  return found;
}

// Running and not stopped: "S (sleeping)", "R (running)".
bool Healthy(pid_t pid) {
  std::string state = ProcStatusField(pid, "State");
  return !state.empty() && (state[0] == 'S' || state[0] == 'R');
}

class IsolationTest : public GatehouseTest {
 public:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "isolation needs root (namespaces, a uid per service)";
  }
  ::testing::AssertionResult Begin(const std::map<std::string, std::string>& services) {
    return Start("log_level = 3\n", services);
  }
  GatehouseProcess& gatehouse() { return *gatehouse_; }
  int PortOf(const std::string& service) { return Port(service); }
};

// Starts [attack] (chrooted when `chrooted`, with a /proc directory in its jail so
// that it gets a private proc there; else in the host's filesystem) and [victim],
// an ordinary service holding a connection; runs the attack; checks the result.
void AttackAndCheck(IsolationTest* test, bool chrooted) {
  TempDir world("/tmp");  // readable by the services' own uids
  std::string attack;
  if (chrooted) {
    std::string jail = world.path() + "/jail";
    mkdir(jail.c_str(), 0755);
    mkdir((jail + "/proc").c_str(), 0555);
    CopyExecutable(Runfile("tests/programs/attacker"), jail + "/attacker");
    attack = "chroot = " + jail + "\nexec = /attacker\n";
  } else {
    CopyExecutable(Runfile("tests/programs/attacker"), world.path() + "/attacker");
    attack = "exec = " + world.path() + "/attacker\n";
  }
  ASSERT_TRUE(test->Begin({{"attack.conf", "[attack]\nport = 127.0.0.1:0\n" + attack},
                           {"victim.conf", "[victim]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}}));
  GatehouseProcess& gatehouse = test->gatehouse();
  pid_t supervisor = gatehouse.pid();

  int victim = ConnectTcp("127.0.0.1", test->PortOf("victim"));
  ASSERT_GE(victim, 0);
  ASSERT_EQ(write(victim, "before\n", 7), 7);
  ASSERT_EQ(ReadUntil(victim, "before\n"), "before\n");
  pid_t victim_program = ProgramPid(gatehouse, victim, "victim");
  ASSERT_GT(victim_program, 0) << gatehouse.Log();

  std::vector<pid_t> victim_children = ChildrenNamed(supervisor, "victim");
  std::vector<pid_t> attack_children = ChildrenNamed(supervisor, "attack");
  ASSERT_EQ(victim_children.size(), 1u);
  ASSERT_EQ(attack_children.size(), 1u);
  std::vector<pid_t> victim_inits = ChildrenNamed(victim_children[0], "victim");
  std::vector<pid_t> attack_inits = ChildrenNamed(attack_children[0], "attack");
  ASSERT_EQ(victim_inits.size(), 1u) << "no namespace init below the victim's child";
  ASSERT_EQ(attack_inits.size(), 1u) << "no namespace init below the attacker's child";

  std::vector<pid_t> targets = {supervisor,     victim_children[0], victim_inits[0],
                                victim_program, attack_children[0], attack_inits[0]};
  std::ostringstream line;
  for (pid_t pid : targets) line << pid << " ";
  line << "\n";
  int attacker = ConnectTcp("127.0.0.1", test->PortOf("attack"));
  ASSERT_GE(attacker, 0);
  ASSERT_EQ(write(attacker, line.str().data(), line.str().size()),
            static_cast<ssize_t>(line.str().size()));
  std::string results = ReadUntil(attacker, "done\n", 20);
  ASSERT_NE(results.find("done\n"), std::string::npos) << results;

  // Nothing was read or traced: not the supervisor, not any child, not the other
  // service, and not the attacker's own child (pid 1 in its namespace).
  std::istringstream lines(results);
  std::string result;
  int attempts = 0;
  while (std::getline(lines, result)) {
    if (result == "done") break;
    ++attempts;
    bool signal_to_own_init = result.rfind("kill 1 ", 0) == 0;
    // The kernel accepts a signal to a namespace's init and drops it (KILL,
    // STOP) or the child ignores it (TERM from a program): checked by effect below.
    if (!signal_to_own_init) {
      EXPECT_EQ(result.find(": ok"), std::string::npos) << result;
    }
  }
  EXPECT_GE(attempts, 7 * 8) << results;

  // Every target still runs, unstopped, and both services still serve.
  for (pid_t pid : targets) EXPECT_TRUE(Healthy(pid)) << "pid " << pid << "\n" << results;
  ASSERT_EQ(write(victim, "after\n", 6), 6);
  EXPECT_EQ(ReadUntil(victim, "after\n"), "after\n");
  int again = ConnectTcp("127.0.0.1", test->PortOf("attack"));
  ASSERT_GE(again, 0);
  ASSERT_EQ(write(again, "\n", 1), 1);
  EXPECT_NE(ReadUntil(again, "done\n").find("done\n"), std::string::npos);
  // The serving child is outside its programs' PID namespace: they cannot even name it.
  EXPECT_NE(results.find("kill " + std::to_string(attack_children[0]) + " TERM: No such process"),
            std::string::npos)
      << results;
  close(again);
  close(attacker);
  close(victim);
}

TEST_F(IsolationTest, AChrootedHostileProgramReachesNothingOutsideItsService) {
  AttackAndCheck(this, true);
}

TEST_F(IsolationTest, AHostileProgramWithoutChrootReachesNothingOutsideItsService) {
  AttackAndCheck(this, false);
}

// private_network = yes: the program's connection works, nothing else does, and
// the host's connections are not in its /proc/net/tcp. The same program without
// it reaches the other service and sees them.
TEST_F(IsolationTest, PrivateNetworkLeavesOnlyTheConnection) {
  std::string probe =
      "exec = /bin/sh\nargs = -c 'echo sockets $(($(wc -l < /proc/net/tcp) - 1)); "
      "if nc -z -w 2 127.0.0.1 $TARGET; then echo reached; else echo unreachable; fi; exec cat'\n";
  ASSERT_TRUE(Begin({{"target.conf", "[target]\nport = 127.0.0.1:0\nexec = /bin/cat\n"},
                     {"closed.conf", "[closed]\nport = 127.0.0.1:0\nprivate_network = yes\n" +
                                         probe + "env = TARGET=@\n"},
                     {"open.conf", "[open]\nport = 127.0.0.1:0\n" + probe + "env = TARGET=@\n"}}));
  // The target's port is known only now: give it to both through a reload.
  std::string target = std::to_string(PortOf("target"));
  for (const char* name : {"closed", "open"}) {
    std::string conf = ReadFile(dir_.path() + "/services.d/" + name + ".conf");
    conf.replace(conf.find("TARGET=@"), 8, "TARGET=" + target);
    dir_.Write(std::string("services.d/") + name + ".conf", conf);
  }
  LogMark mark = gatehouse().MarkLog();
  kill(gatehouse().pid(), SIGHUP);
  ASSERT_TRUE(gatehouse().WaitForLog("reloaded:", mark)) << gatehouse().Log();
  ASSERT_TRUE(gatehouse().WaitForLog("closed: ready", mark)) << gatehouse().Log();
  ASSERT_TRUE(gatehouse().WaitForLog("open: ready", mark)) << gatehouse().Log();

  std::string closed =
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(PortOf("closed"))}, "still echoes\n", 15)
          .out;
  EXPECT_EQ(closed, "sockets 0\nunreachable\nstill echoes\n") << gatehouse().Log();
  std::string open =
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(PortOf("open"))}, "still echoes\n", 15)
          .out;
  EXPECT_NE(open.find("reached\nstill echoes\n"), std::string::npos) << open;
  EXPECT_EQ(open.find("sockets 0\n"), std::string::npos) << open;
}

}  // namespace
}  // namespace gatehouse::testing
