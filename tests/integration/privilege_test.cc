// Every privilege drop and what the exec stage prepares, read from /proc/PID of
// the running service program: uid/gid, capabilities, no_new_privs, its root
// (the chroot), its working directory, its signal dispositions and mask, its fds.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

constexpr const char* kNoCapabilities = "0000000000000000";

bool RootIs(pid_t pid, const std::string& dir) {
  return SameFile("/proc/" + std::to_string(pid) + "/root/", dir);
}

bool CwdIs(pid_t pid, const std::string& dir) {
  return SameFile("/proc/" + std::to_string(pid) + "/cwd/", dir);
}

// Whether an fd is /dev/null: the same character device.
bool IsDevNull(const std::string& fd_path) {
  struct stat fd {
  }, null{};
  return stat(fd_path.c_str(), &fd) == 0 && stat("/dev/null", &null) == 0 && S_ISCHR(fd.st_mode) &&
         fd.st_rdev == null.st_rdev;
}

// A chroot holding only the static probe program, as /probe.
std::string MakeJail(const TempDir& dir) {
  std::string jail = dir.path() + "/jail";
  mkdir(jail.c_str(), 0755);
  CopyExecutable(Runfile("tests/programs/probe"), jail + "/probe");
  char real[PATH_MAX];
  return realpath(jail.c_str(), real) ? real : jail;
}

class PrivilegeTest : public GatehouseTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "privilege drops need root";
  }
  // Connects and returns the program's pid as this test sees it (from the
  // supervisor's "start" line, log_level 3); keeps the connection. The program's
  // own "pid N" line, its pid in its namespace, goes to `own_view`.
  pid_t ProgramPidOf(const std::string& service) {
    connection_ = ConnectTcp("127.0.0.1", Port(service));
    EXPECT_GE(connection_, 0);
    ReadUntil(connection_, "\n");
    return ProgramPid(*gatehouse_, connection_, service);
  }
  pid_t ConnectAndGetProgramPid(int port, pid_t* own_view = nullptr) {
    connection_ = ConnectTcp("127.0.0.1", port);
    EXPECT_GE(connection_, 0);
    std::string line = ReadUntil(connection_, "\n");
    EXPECT_EQ(line.rfind("pid ", 0), 0u) << line;
    if (own_view != nullptr) *own_view = line.size() > 4 ? std::atoi(line.c_str() + 4) : -1;
    return ProgramPid(*gatehouse_, connection_, "probe");
  }
  // The uid --check says a service runs as ("user     dynamic (uid N)").
  void CloseConnection() {
    if (connection_ >= 0) close(connection_);
    connection_ = -1;
  }
  // The probe where a service's own uid can run it (Bazel's tree is root's).
  std::string WorldProbe() {
    world_ = std::make_unique<TempDir>("/tmp");
    CopyExecutable(Runfile("tests/programs/probe"), world_->path() + "/probe");
    return world_->path() + "/probe";
  }
  void TearDown() override { CloseConnection(); }
  int connection_ = -1;
  std::unique_ptr<TempDir> world_;
};

// fork and single run a program per connection the same way; the other modes'
// programs (wait, datagram) and the built-ins' child are checked in their own
// tests (wait_test, datagram_test, builtin_test).
class ConnectionModePrivilegeTest : public PrivilegeTest,
                                    public ::testing::WithParamInterface<const char*> {};

INSTANTIATE_TEST_SUITE_P(Modes, ConnectionModePrivilegeTest, ::testing::Values("fork", "single"));

TEST_P(ConnectionModePrivilegeTest,
       ChrootedInItsOwnUidAndNamespaceWithNoCapabilitiesAndOnlyThreeFds) {
  std::string jail = MakeJail(dir_);
  // gatehouse starts with a stray inherited fd (as from a careless shell); it must
  // not reach the program.
  int stray = open("/dev/null", O_RDONLY);
  ASSERT_GE(stray, 3);
  GatehouseProcess::Launch launch;
  launch.extra_fd = stray;
  ::testing::AssertionResult started =
      Start("log_level = 3\n",
            {{"probe.conf", "[probe]\nport = 127.0.0.1:0\nchroot = " + jail +
                                "\nexec = /probe\nmode = " + GetParam() + "\n"}},
            launch);
  close(stray);
  ASSERT_TRUE(started);

  pid_t own_view = 0;
  pid_t program = ConnectAndGetProgramPid(Port("probe"), &own_view);
  ASSERT_GT(program, 1) << gatehouse_->Log();
  // A uid and gid of the service's own (not nobody), the one --check names.
  std::string uid = CheckedUid(config_);
  ASSERT_FALSE(uid.empty());
  EXPECT_GE(std::stoul(uid), 0x47480000ul);
  EXPECT_LE(std::stoul(uid), 0x4748FFFFul);
  std::string ids = uid + "\t" + uid + "\t" + uid + "\t" + uid;
  EXPECT_EQ(ProcStatusField(program, "Uid"), ids);
  EXPECT_EQ(ProcStatusField(program, "Gid"), ids);
  EXPECT_EQ(ProcStatusField(program, "Groups"), uid);
  // In the service's own PID namespace it is one of the first processes.
  EXPECT_GE(own_view, 2);
  EXPECT_LT(own_view, 10);
  EXPECT_NE(own_view, program);
  for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(ProcStatusField(program, caps), kNoCapabilities) << caps;
  }
  EXPECT_EQ(ProcStatusField(program, "NoNewPrivs"), "1");
  EXPECT_TRUE(RootIs(program, jail));
  EXPECT_EQ(OpenFds(program), (std::set<std::string>{"0", "1", "2"}));
  EXPECT_EQ(Link("/proc/" + std::to_string(program) + "/fd/0").rfind("socket:[", 0), 0u);
  EXPECT_EQ(Link("/proc/" + std::to_string(program) + "/fd/1"),
            Link("/proc/" + std::to_string(program) + "/fd/0"));

  // The service's gatehouse-child itself runs dropped too: the serving process
  // (the program's parent, ours) and the keeper of the namespace (its pid 1).
  pid_t serving = ParentPid(program);
  pid_t keeper = KeeperOf(serving);
  EXPECT_EQ(ParentPid(serving), gatehouse_->pid());
  ASSERT_GT(keeper, 0) << "no namespace keeper";
  for (pid_t child : {serving, keeper}) {
    EXPECT_EQ(ProcStatusField(child, "Uid"), ids) << child;
    EXPECT_EQ(ProcStatusField(child, "CapEff"), kNoCapabilities) << child;
    EXPECT_EQ(ProcStatusField(child, "CapBnd"), kNoCapabilities) << child;
    EXPECT_TRUE(RootIs(child, jail)) << child;
  }

  // The service runs in the mode asked for (--check and USR1 say so).
  LogMark mark = gatehouse_->MarkLog();
  ASSERT_EQ(kill(gatehouse_->pid(), SIGUSR1), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("status: probe: ", mark));
  EXPECT_NE(gatehouse_->Log(mark).find(std::string("status: probe: mode ") + GetParam() + ","),
            std::string::npos)
      << gatehouse_->Log(mark);

  // The connection works end to end.
  ASSERT_EQ(write(connection_, "ping\n", 5), 5);
  EXPECT_EQ(ReadUntil(connection_, "ping\n"), "ping\n");
  CloseConnection();  // before gatehouse stops: its TERM lets programs finish first
}

TEST_F(PrivilegeTest, DefaultSignalsEmptyMaskRootDirectoryAndStderrOnAPipe) {
  ASSERT_TRUE(
      Start("log_level = 3\n",
            {{"probe.conf", "[probe]\nport = 127.0.0.1:0\nexec = " + WorldProbe() + "\n"}}));
  pid_t program = ConnectAndGetProgramPid(Port("probe"));
  ASSERT_GT(program, 1) << gatehouse_->Log();
  std::string proc = "/proc/" + std::to_string(program);
  // Nothing ignored, real-time signals included (glibc's posix_spawn left 32 and
  // 33 ignored: SigIgn 0000000180000000), and nothing blocked.
  EXPECT_EQ(ProcStatusField(program, "SigIgn"), "0000000000000000");
  EXPECT_EQ(ProcStatusField(program, "SigBlk"), "0000000000000000");
  // chdir's default, not gatehouse's own working directory (the test's runfiles).
  EXPECT_TRUE(CwdIs(program, "/")) << Link(proc + "/cwd");
  EXPECT_EQ(OpenFds(program), (std::set<std::string>{"0", "1", "2"}));
  EXPECT_EQ(Link(proc + "/fd/0").rfind("socket:[", 0), 0u);
  EXPECT_EQ(Link(proc + "/fd/2").rfind("pipe:[", 0), 0u) << Link(proc + "/fd/2");
  CloseConnection();
}

// The line of /proc/PID/limits for `name` ("Max open files"): soft and hard.
std::string LimitLine(pid_t pid, const std::string& name) {
  std::istringstream limits(ReadFile("/proc/" + std::to_string(pid) + "/limits"));
  std::string line;
  while (std::getline(limits, line)) {
    if (line.rfind(name, 0) == 0) {
      std::istringstream fields(line.substr(name.size()));
      std::string soft, hard;
      fields >> soft >> hard;
      return soft + " " + hard;
    }
  }
  return "";
}

TEST_F(PrivilegeTest, RlimitsNiceAndUmaskReachTheProgram) {
  std::string probe = WorldProbe();
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"probe.conf", "[probe]\nport = 127.0.0.1:0\nexec = " + probe +
                                        "\nrlimit_nofile = 100\nrlimit_cpu = 30\nrlimit_core = 0"
                                        "\nrlimit_as = 512M\nnice = 5\numask = 027\n"},
                     {"plain.conf", "[plain]\nport = 127.0.0.1:0\nexec = " + probe + "\n"}}));
  pid_t program = ConnectAndGetProgramPid(Port("probe"));
  ASSERT_GT(program, 1) << gatehouse_->Log();
  EXPECT_EQ(LimitLine(program, "Max open files"), "100 100");
  EXPECT_EQ(LimitLine(program, "Max cpu time"), "30 30");
  EXPECT_EQ(LimitLine(program, "Max core file size"), "0 0");
  EXPECT_EQ(LimitLine(program, "Max address space"), "536870912 536870912");
  EXPECT_EQ(ProcStatusField(program, "Umask"), "0027");
  std::string stat = ReadFile("/proc/" + std::to_string(program) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 19; ++i) fields >> field;  // field 19: nice
  EXPECT_EQ(field, "5");
  CloseConnection();

  // Without rlimit_nofile a program gets the soft limit gatehouse started with
  // (ours), not the hard limit gatehouse raised itself to.
  rlimit ours{};
  getrlimit(RLIMIT_NOFILE, &ours);
  pid_t plain = ProgramPidOf("plain");
  ASSERT_GT(plain, 1) << gatehouse_->Log();
  EXPECT_EQ(LimitLine(plain, "Max open files"),
            std::to_string(ours.rlim_cur) + " " + std::to_string(ours.rlim_max));
  EXPECT_EQ(ProcStatusField(plain, "Umask"), "0022");  // the default, as systemd's
  rlimit supervisor{};
  prlimit(gatehouse_->pid(), RLIMIT_NOFILE, nullptr, &supervisor);
  EXPECT_EQ(supervisor.rlim_cur, ours.rlim_max) << "gatehouse did not raise its own";
  CloseConnection();
}

TEST_F(PrivilegeTest, ChdirIsInsideTheChrootAndStderrNullNeedsNoDevThere) {
  std::string jail = MakeJail(dir_);
  ASSERT_EQ(mkdir((jail + "/srv").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((jail + "/srv/www").c_str(), 0755), 0);
  struct stat dev {};
  ASSERT_NE(stat((jail + "/dev").c_str(), &dev), 0);  // no /dev/null inside
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"probe.conf", "[probe]\nport = 127.0.0.1:0\nchroot = " + jail +
                                        "\nexec = /probe\nchdir = /srv/www\nstderr = null\n"}}));
  pid_t program = ConnectAndGetProgramPid(Port("probe"));
  ASSERT_GT(program, 1) << gatehouse_->Log();
  std::string proc = "/proc/" + std::to_string(program);
  EXPECT_TRUE(CwdIs(program, jail + "/srv/www")) << Link(proc + "/cwd");
  EXPECT_EQ(OpenFds(program), (std::set<std::string>{"0", "1", "2"}));
  EXPECT_EQ(Link(proc + "/fd/1"), Link(proc + "/fd/0"));
  EXPECT_TRUE(IsDevNull(proc + "/fd/2")) << Link(proc + "/fd/2");
  ASSERT_EQ(write(connection_, "ping\n", 5), 5);
  EXPECT_EQ(ReadUntil(connection_, "ping\n"), "ping\n");
  CloseConnection();
}

TEST_F(PrivilegeTest, StderrClientIsTheConnection) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"probe.conf", "[probe]\nport = 127.0.0.1:0\nstderr = client\nexec = " +
                                        WorldProbe() + "\n"},
                     {"talker.conf",
                      "[talker]\nport = 127.0.0.1:0\nstderr = client\nexec = /bin/sh\n"
                      "args = -c 'echo to-stderr >&2; echo to-stdout'\n"}}));
  pid_t program = ConnectAndGetProgramPid(Port("probe"));
  ASSERT_GT(program, 1) << gatehouse_->Log();
  std::string proc = "/proc/" + std::to_string(program);
  EXPECT_EQ(OpenFds(program), (std::set<std::string>{"0", "1", "2"}));
  EXPECT_EQ(Link(proc + "/fd/0").rfind("socket:[", 0), 0u);
  EXPECT_EQ(Link(proc + "/fd/2"), Link(proc + "/fd/0"));
  CloseConnection();

  // What a program writes to stderr arrives at the client, not in the log.
  CommandResult client = RunCommand({"nc", "-N", "127.0.0.1", std::to_string(Port("talker"))});
  EXPECT_EQ(client.out, "to-stderr\nto-stdout\n");
  EXPECT_EQ(gatehouse_->Log().find("to-stderr"), std::string::npos) << gatehouse_->Log();
}

TEST_F(PrivilegeTest, ExplicitRootKeepsUidButNoCapabilities) {
  ASSERT_TRUE(
      Start("log_level = 3\n",
            {{"probe.conf", "[probe]\nport = 127.0.0.1:0\nuser = root\ngroup = root\nexec = " +
                                Runfile("tests/programs/probe") + "\n"}}));
  pid_t program = ConnectAndGetProgramPid(Port("probe"));
  ASSERT_GT(program, 1);
  EXPECT_EQ(ProcStatusField(program, "Uid"), "0\t0\t0\t0");
  EXPECT_EQ(ProcStatusField(program, "CapEff"), kNoCapabilities);
  EXPECT_EQ(ProcStatusField(program, "CapPrm"), kNoCapabilities);
  EXPECT_EQ(ProcStatusField(program, "CapBnd"), kNoCapabilities);
  EXPECT_EQ(ProcStatusField(program, "NoNewPrivs"), "1");
  CloseConnection();
}

TEST_F(PrivilegeTest, NamedUserGetsItsOwnPrimaryGroup) {
  // Debian's "daemon" user: uid 1, gid 1.
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"probe.conf", "[probe]\nport = 127.0.0.1:0\nuser = daemon\nchroot = " +
                                        MakeJail(dir_) + "\nexec = /probe\n"}}));
  pid_t program = ConnectAndGetProgramPid(Port("probe"));
  ASSERT_GT(program, 1);
  EXPECT_EQ(ProcStatusField(program, "Uid"), "1\t1\t1\t1");
  EXPECT_EQ(ProcStatusField(program, "Gid"), "1\t1\t1\t1");
  CloseConnection();
}

TEST_F(PrivilegeTest, AsAnOrdinaryUserServicesRunAsThatUser) {
  // gatehouse started as nobody (through setpriv), as a user without root would.
  // Everything it needs sits in a world-readable folder: Bazel's tree is root's.
  TempDir world("/tmp");
  CopyExecutable(Runfile("supervisor/gatehouse"), world.path() + "/gatehouse");
  CopyExecutable(Runfile("child/gatehouse-child"), world.path() + "/gatehouse-child");
  CopyExecutable(Runfile("tests/programs/probe"), world.path() + "/probe");
  std::string config = WriteConfig(
      world, "log_level = 3\n",
      {{"probe.conf", "[probe]\nport = 127.0.0.1:0\nexec = " + world.path() + "/probe\n"}});
  log_path_ = world.path() + "/gatehouse.log";
  std::vector<std::string> as_nobody = {"setpriv", "--reuid=65534", "--regid=65534",
                                        "--clear-groups", "--"};
  {
    GatehouseProcess::Launch launch;
    launch.wrapper = as_nobody;  // setpriv execs gatehouse: the pid stays the same
    launch.binary = world.path() + "/gatehouse";
    ASSERT_TRUE(StartWithArgs({"--config", config}, {"probe"}, launch));
    pid_t program = ConnectAndGetProgramPid(Port("probe"));
    EXPECT_EQ(ProcStatusField(gatehouse_->pid(), "Uid"), "65534\t65534\t65534\t65534");
    EXPECT_EQ(ProcStatusField(program, "Uid"), "65534\t65534\t65534\t65534");
    EXPECT_EQ(ProcStatusField(program, "CapEff"), kNoCapabilities);
    EXPECT_EQ(ProcStatusField(program, "NoNewPrivs"), "1");
    EXPECT_EQ(OpenFds(program), (std::set<std::string>{"0", "1", "2"}));
    CloseConnection();
    int status = gatehouse_->Stop(SIGTERM);
    EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }

  // Asking for another user as an ordinary user is a clear config error.
  std::string bad = WriteConfig(
      world, "", {{"probe.conf", "[probe]\nport = 127.0.0.1:0\nuser = daemon\nexec = /bin/cat\n"}});
  std::vector<std::string> check_args = as_nobody;
  check_args.insert(check_args.end(), {world.path() + "/gatehouse", "--config", bad});
  CommandResult check = RunCommand(check_args);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.err.find("probe.conf:3: user: changing user needs gatehouse to run as root"),
            std::string::npos)
      << check.err;
}

// Every capability this kernel has, as /proc shows a full set (the test runs as
// root with all of them).
std::string AllCapabilities() { return ProcStatusField(getpid(), "CapBnd"); }

constexpr const char* kNetBindService = "0000000000000400";  // bit 10

// The serving process (the program's parent) and the keeper of the namespace.
std::pair<pid_t, pid_t> ServingAndKeeper(pid_t program) {
  pid_t serving = ParentPid(program);
  return {serving, KeeperOf(serving)};
}

TEST_F(PrivilegeTest, NobodyWithNetBindServiceKeepsExactlyThatCapability) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"probe.conf",
                                         "[probe]\nport = 127.0.0.1:0\nuser = nobody\n"
                                         "capabilities = CAP_NET_BIND_SERVICE\nexec = " +
                                             WorldProbe() + "\n"}}));
  pid_t program = ConnectAndGetProgramPid(Port("probe"));
  ASSERT_GT(program, 1) << gatehouse_->Log();
  EXPECT_EQ(ProcStatusField(program, "Uid"), "65534\t65534\t65534\t65534");
  // Through exec only the ambient set carries it for a user other than root.
  for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(ProcStatusField(program, caps), kNetBindService) << caps;
  }
  EXPECT_EQ(ProcStatusField(program, "NoNewPrivs"), "1");

  // The serving process holds it only to pass it on (nothing effective); the keeper has none.
  auto [init, holder] = ServingAndKeeper(program);
  ASSERT_GT(holder, 0) << "no namespace keeper";
  EXPECT_EQ(ProcStatusField(init, "CapEff"), kNoCapabilities);
  for (const char* caps : {"CapInh", "CapPrm", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(ProcStatusField(init, caps), kNetBindService) << caps;
  }
  for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(ProcStatusField(holder, caps), kNoCapabilities) << caps;
  }
  EXPECT_EQ(ProcStatusField(holder, "NoNewPrivs"), "1");
  CloseConnection();
}

TEST_F(PrivilegeTest, RootWithAllCapabilitiesAndNoNewPrivsOffKeepsThemAll) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"probe.conf",
                                         "[probe]\nport = 127.0.0.1:0\nuser = root\ngroup = root\n"
                                         "capabilities = all\nno_new_privs = no\nexec = " +
                                             Runfile("tests/programs/probe") + "\n"}}));
  pid_t program = ConnectAndGetProgramPid(Port("probe"));
  ASSERT_GT(program, 1) << gatehouse_->Log();
  std::string all = AllCapabilities();
  ASSERT_NE(all, kNoCapabilities);
  EXPECT_EQ(ProcStatusField(program, "Uid"), "0\t0\t0\t0");
  for (const char* caps : {"CapPrm", "CapEff", "CapBnd"}) {
    EXPECT_EQ(ProcStatusField(program, caps), all) << caps;
  }
  EXPECT_EQ(ProcStatusField(program, "CapAmb"), kNoCapabilities);
  EXPECT_EQ(ProcStatusField(program, "NoNewPrivs"), "0");

  auto [init, holder] = ServingAndKeeper(program);
  ASSERT_GT(holder, 0) << "no namespace keeper";
  EXPECT_EQ(ProcStatusField(init, "CapPrm"), all);
  EXPECT_EQ(ProcStatusField(init, "CapBnd"), all);
  EXPECT_EQ(ProcStatusField(init, "CapEff"), kNoCapabilities);
  for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(ProcStatusField(holder, caps), kNoCapabilities) << caps;
  }
  EXPECT_EQ(ProcStatusField(holder, "NoNewPrivs"), "1");
  CloseConnection();
}

TEST_F(PrivilegeTest, CheckWarnsForEveryServiceThatKeepsPrivileges) {
  std::string probe = Runfile("tests/programs/probe");
  std::string config = WriteConfig(
      dir_, "",
      {{"a_plain.conf", "[plain]\nport = 127.0.0.1:0\nexec = " + probe + "\n"},
       {"b_root.conf", "[rooted]\nport = 127.0.0.1:0\nuser = root\nexec = " + probe + "\n"},
       {"c_bind.conf",
        "[binder]\nport = 127.0.0.1:0\nuser = nobody\n"
        "capabilities = cap_net_bind_service\nexec = " +
            probe + "\n"},
       {"d_nnp.conf", "[setuid]\nport = 127.0.0.1:0\nno_new_privs = no\nexec = " + probe + "\n"}});
  CommandResult check =
      RunCommand({Runfile("supervisor/gatehouse"), "--check", "--config", config});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  EXPECT_EQ(check.out.find("[plain] keeps"), std::string::npos) << check.out;
  for (const char* expected :
       {"b_root.conf:1: [rooted] keeps privileges (user = root) (without capabilities it still has "
        "root's file access",
        "c_bind.conf:1: [binder] keeps privileges (capabilities = CAP_NET_BIND_SERVICE): such a "
        "service can break the isolation between services",
        "d_nnp.conf:1: [setuid] keeps privileges (no_new_privs = no): such a service can break"}) {
    EXPECT_NE(check.out.find(std::string("/services.d/") + expected), std::string::npos)
        << expected << "\n"
        << check.out;
  }
  size_t warnings = 0;
  for (size_t at = check.out.find("\nwarning: "); at != std::string::npos;
       at = check.out.find("\nwarning: ", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 3u) << check.out;
  EXPECT_NE(check.out.find("capabilities CAP_NET_BIND_SERVICE  no_new_privs yes"),
            std::string::npos)
      << check.out;

  std::string bad =
      WriteConfig(dir_, "",
                  {{"probe.conf",
                    "[probe]\nport = 127.0.0.1:0\ncapabilities = CAP_NET_BIND_SERVICE "
                    "CAP_FLY\nexec = " +
                        probe + "\n"}});
  CommandResult refused = RunCommand({Runfile("supervisor/gatehouse"), "--check", "--config", bad});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("probe.conf:3: capabilities: \"CAP_FLY\" is not a capability"),
            std::string::npos)
      << refused.err;
}

}  // namespace
}  // namespace gatehouse::testing
