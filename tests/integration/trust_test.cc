// Only root configures root, with a running gatehouse as root: what another user
// (nobody) can do with a config file, a log or pid_file folder, or a chroot's
// parent that is theirs or writable by them, and that none of it gives them
// anything. Config-level cases without a running gatehouse: tests/config_trust_test.cc.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

constexpr uid_t kNobody = 65534;

// Runs `script` with sh as nobody (the hostile local user).
CommandResult AsNobody(const std::string& script) {
  return RunCommand(
      {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script});
}

// A root-owned 0600 file, as the attacker's target.
struct Victim {
  explicit Victim(const TempDir& dir) : path(dir.Write("victim", "secret\n")) {
    chmod(path.c_str(), 0600);
  }
  bool Untouched() const { return ReadFile(path) == "secret\n"; }
  std::string path;
};

class TrustTest : public GatehouseTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "another user's files need root";
  }
  // The "NAME: ready (child pid N)" of the latest child of `service` after `mark`.
  pid_t ChildPid(const std::string& service, LogMark mark) const {
    std::string needle = service + ": ready (child pid ";
    if (!gatehouse_->WaitForLog(needle, mark)) return 0;
    std::string log = gatehouse_->Log(mark);
    return static_cast<pid_t>(std::atol(log.c_str() + log.rfind(needle) + needle.size()));
  }
  // HUP, and the reload's verdict ("reloaded: " or "reload refused").
  std::string Hup() {
    LogMark mark = gatehouse_->MarkLog();
    kill(gatehouse_->pid(), SIGHUP);
    WaitUntil([&] {
      std::string log = gatehouse_->Log(mark);
      return log.find("reloaded: ") != std::string::npos ||
             log.find("reload refused") != std::string::npos;
    });
    return gatehouse_->Log(mark);
  }
};

const char* kEcho = "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n";
const char* kRootId =
    "[evil]\nport = 127.0.0.1:0\nuser = root\ncapabilities = all\nexec = /usr/bin/id\n";

bool Echoes(int port) {
  CommandResult echo = RunCommand({"nc", "-N", "127.0.0.1", std::to_string(port)}, "hello\n", 10);
  return echo.out == "hello\n";
}

// The attack: a services.d file of another user, or any file in a
// services.d others may write, with user = root: refused at --check, at start
// and on HUP (which keeps the running config).
TEST_F(TrustTest, AServiceFileAnotherUserCanChangeIsRefusedAtCheckStartAndReload) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"echo.conf", kEcho}}));
  std::string evil = dir_.Write("services.d/evil.conf", kRootId);
  ASSERT_EQ(chown(evil.c_str(), kNobody, kNobody), 0);

  CommandResult check = RunCommand({Gatehouse(), "--check", "--config", config_});
  EXPECT_EQ(check.exit_code, 1) << check.out << check.err;
  EXPECT_NE(check.err.find(evil + ": " + evil +
                           ": owned by nobody (uid 65534), mode 0644; "
                           "gatehouse reads it as root"),
            std::string::npos)
      << check.err;
  EXPECT_EQ(check.out.find("config OK"), std::string::npos) << check.out;

  std::string reload = Hup();
  EXPECT_NE(reload.find("reload refused"), std::string::npos) << reload;
  EXPECT_NE(reload.find("owned by nobody (uid 65534)"), std::string::npos) << reload;
  EXPECT_EQ(reload.find("evil: listening"), std::string::npos) << reload;
  EXPECT_TRUE(Echoes(Port("echo"))) << "the running config stays";

  // Root's file in a folder others may write: the same.
  ASSERT_EQ(chown(evil.c_str(), 0, 0), 0);
  std::string services = dir_.path() + "/services.d";
  ASSERT_EQ(chmod(services.c_str(), 0777), 0);
  reload = Hup();
  EXPECT_NE(reload.find("reload refused"), std::string::npos) << reload;
  EXPECT_NE(reload.find(services + ": owned by root (uid 0), mode 0777 (writable by group or "
                                   "others)"),
            std::string::npos)
      << reload;

  CommandResult start = RunCommand({Gatehouse(), "--config", config_}, "", 10);
  EXPECT_EQ(start.exit_code, 1) << start.err;
  EXPECT_NE(start.err.find(services + ": owned by root (uid 0), mode 0777"), std::string::npos)
      << start.err;

  // Put right, the service comes.
  ASSERT_EQ(chmod(services.c_str(), 0755), 0);
  reload = Hup();
  EXPECT_NE(reload.find("reloaded: 2 services"), std::string::npos) << reload;
}

// A log folder of another user: their symlink to a root-only file is never
// appended to; refused at start with a message naming log_file.
TEST_F(TrustTest, ALogFolderAnotherUserOwnsIsRefusedAndItsSymlinkNotFollowed) {
  TempDir logs("/tmp"), secrets;
  Victim victim(secrets);
  ASSERT_EQ(chown(logs.path().c_str(), kNobody, kNobody), 0);
  std::string log = logs.path() + "/gatehouse.log";
  CommandResult plant = AsNobody("ln -s " + victim.path + " " + log);
  ASSERT_EQ(plant.exit_code, 0) << plant.err;
  std::string main = WriteConfig(dir_, "log_file = " + log + "\n", {{"echo.conf", kEcho}});
  CommandResult start = RunCommand({Gatehouse(), "--config", main}, "", 10);
  EXPECT_EQ(start.exit_code, 1) << start.err;
  EXPECT_NE(start.err.find("gatehouse.conf:1: log_file: " + logs.path() +
                           ": owned by nobody (uid 65534), mode 0755; gatehouse writes it as "
                           "root"),
            std::string::npos)
      << start.err;
  EXPECT_TRUE(victim.Untouched()) << ReadFile(victim.path);

  // The folder root's again, the link still there: not followed either.
  ASSERT_EQ(chown(logs.path().c_str(), 0, 0), 0);
  start = RunCommand({Gatehouse(), "--config", main}, "", 10);
  EXPECT_EQ(start.exit_code, 1) << start.err;
  EXPECT_NE(start.err.find("log_file: " + log + " is a symbolic link"), std::string::npos)
      << start.err;
  EXPECT_TRUE(victim.Untouched()) << ReadFile(victim.path);
}

// The second log attack: the folder becomes writable while gatehouse
// runs; the log is renamed and a symlink planted in its place. Neither the HUP
// reopen nor the reopen after a move follows it, and both say so in the log.
TEST_F(TrustTest, ASymlinkPlantedBeforeTheLogIsReopenedIsRefusedAndItsTargetUntouched) {
  TempDir logs("/tmp"), secrets;
  Victim victim(secrets);
  std::string log = logs.path() + "/gatehouse.log";
  log_path_ = log;  // the harness reads the log gatehouse writes
  ASSERT_TRUE(Start("log_level = 3\nlog_file = " + log + "\n", {{"echo.conf", kEcho}}));
  int port = Port("echo");
  ASSERT_EQ(chmod(logs.path().c_str(), 0777), 0);
  CommandResult plant =
      AsNobody("mv " + log + " " + log + ".1 && ln -s " + victim.path + " " + log);
  ASSERT_EQ(plant.exit_code, 0) << plant.err;
  std::string moved = log + ".1";

  kill(gatehouse_->pid(), SIGHUP);
  // The reload's verdict lands in the file the log was, or (the attack working)
  // in the victim.
  ASSERT_TRUE(WaitUntil([&] {
    return ReadFile(moved).find("reload refused") != std::string::npos ||
           ReadFile(victim.path).find("reload") != std::string::npos;
  })) << ReadFile(moved);
  EXPECT_TRUE(victim.Untouched()) << ReadFile(victim.path);
  EXPECT_NE(ReadFile(moved).find("err: reload: log_file " + log + ": " + logs.path() +
                                 ": owned by root (uid 0), mode 0777"),
            std::string::npos)
      << ReadFile(moved);
  // Connections log lines; the once-a-second check finds the log moved.
  EXPECT_TRUE(WaitUntil([&] {
    Echoes(port);
    return ReadFile(moved).find("err: reopen refused: log_file " + log) != std::string::npos;
  })) << ReadFile(moved);
  EXPECT_TRUE(Echoes(port));
  EXPECT_TRUE(victim.Untouched()) << ReadFile(victim.path);
}

// pid_file in another user's folder: they could swap the file, or the folder,
// under gatehouse's writes and its removal at exit. Refused before anything is
// written; a link planted there is never followed.
TEST_F(TrustTest, APidFileFolderAnotherUserOwnsIsRefused) {
  TempDir run("/tmp"), secrets;
  Victim victim(secrets);
  ASSERT_EQ(chown(run.path().c_str(), kNobody, kNobody), 0);
  std::string pid_file = run.path() + "/gatehouse.pid";
  std::string main = WriteConfig(dir_, "pid_file = " + pid_file + "\n", {{"echo.conf", kEcho}});
  CommandResult start = RunCommand({Gatehouse(), "--config", main}, "", 10);
  EXPECT_EQ(start.exit_code, 1) << start.err;
  EXPECT_NE(start.err.find("gatehouse.conf:1: pid_file: " + run.path() +
                           ": owned by nobody (uid 65534), mode 0755; gatehouse writes it as root"),
            std::string::npos)
      << start.err;
  struct stat info {};
  EXPECT_NE(lstat(pid_file.c_str(), &info), 0) << "written";

  ASSERT_EQ(AsNobody("ln -s " + victim.path + " " + pid_file).exit_code, 0);
  start = RunCommand({Gatehouse(), "--config", main}, "", 10);
  EXPECT_EQ(start.exit_code, 1) << start.err;
  EXPECT_TRUE(victim.Untouched()) << ReadFile(victim.path);
}

// A chroot holding a static busybox as /bin/cat: the host's /bin/cat would run
// too, so a jail swapped for a link to / would serve, from the host's root.
std::string MakeJail(const std::string& parent) {
  std::string jail = parent + "/jail";
  mkdir(jail.c_str(), 0755);
  mkdir((jail + "/bin").c_str(), 0755);
  CopyExecutable("/usr/bin/busybox", jail + "/bin/cat");
  return jail;
}

// The attack: `mv jail jail.old; ln -s / jail` in a parent that became
// writable by others, then a child restart. The new child refuses the jail; no
// program of the service ever runs in the host's root.
TEST_F(TrustTest, AJailSwappedForALinkToRootIsNotEnteredAtTheNextChildStart) {
  struct stat busybox {};
  if (stat("/usr/bin/busybox", &busybox) != 0) GTEST_SKIP() << "needs a static busybox";
  TempDir parent("/tmp");
  std::string jail = MakeJail(parent.path());
  ASSERT_TRUE(Start(
      "log_level = 3\n",
      {{"jailed.conf", "[jailed]\nport = 127.0.0.1:0\nchroot = " + jail + "\nexec = /bin/cat\n"}}));
  int port = Port("jailed");
  int held = ConnectTcp("127.0.0.1", port);
  ASSERT_GE(held, 0);
  pid_t program = ProgramPid(*gatehouse_, held, "jailed");
  ASSERT_GT(program, 0) << gatehouse_->Log();
  EXPECT_TRUE(SameFile("/proc/" + std::to_string(program) + "/root", jail));
  close(held);

  ASSERT_EQ(chmod(parent.path().c_str(), 0777), 0);
  CommandResult swap = AsNobody("cd " + parent.path() + " && mv jail jail.old && ln -s / jail");
  ASSERT_EQ(swap.exit_code, 0) << swap.err;

  LogMark mark = gatehouse_->MarkLog();
  pid_t child = ChildPid("jailed", LogMark{});
  ASSERT_GT(child, 0);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  // The next child either refuses the jail or (the attack working) serves.
  WaitUntil(
      [&] {
        std::string log = gatehouse_->Log(mark);
        return log.find("chroot " + jail + ": ") != std::string::npos ||
               log.find("jailed: ready") != std::string::npos;
      },
      20);
  held = ConnectTcp("127.0.0.1", port);
  ASSERT_GE(held, 0);
  ASSERT_EQ(write(held, "hello\n", 6), 6);
  std::string answer = ReadUntil(held, "\n", 3);
  EXPECT_NE(answer, "hello\n") << "served from the host's root";
  std::string log = gatehouse_->Log(mark);
  pid_t escaped = FirstProgramPid(log, "jailed");
  if (escaped > 0) {
    EXPECT_FALSE(SameFile("/proc/" + std::to_string(escaped) + "/root", "/"))
        << "program " << escaped << " runs in the host's root";
  }
  close(held);
  EXPECT_NE(
      log.find("chroot " + jail + ": " + parent.path() + ": owned by root (uid 0), mode 0777"),
      std::string::npos)
      << log;
  EXPECT_EQ(escaped, 0) << log;
  EXPECT_EQ(log.find("jailed: ready"), std::string::npos) << log;

  // A reload checks the chroot too.
  std::string reload = Hup();
  EXPECT_NE(reload.find("reload refused"), std::string::npos) << reload;
  EXPECT_NE(reload.find("chroot: " + parent.path() + ": owned by root (uid 0), mode 0777"),
            std::string::npos)
      << reload;
}

// Even in a parent only root may write: a jail that became a link (root's
// mistake, or an attacker's with a way in) is refused, not followed.
TEST_F(TrustTest, AJailReplacedByAnyLinkIsRefusedAtTheNextChildStart) {
  struct stat busybox {};
  if (stat("/usr/bin/busybox", &busybox) != 0) GTEST_SKIP() << "needs a static busybox";
  TempDir parent("/tmp");
  std::string jail = MakeJail(parent.path());
  ASSERT_TRUE(Start(
      "log_level = 3\n",
      {{"jailed.conf", "[jailed]\nport = 127.0.0.1:0\nchroot = " + jail + "\nexec = /bin/cat\n"}}));
  ASSERT_TRUE(Echoes(Port("jailed")));
  ASSERT_EQ(rename(jail.c_str(), (jail + ".old").c_str()), 0);
  ASSERT_EQ(symlink("/", jail.c_str()), 0);
  LogMark mark = gatehouse_->MarkLog();
  pid_t child = ChildPid("jailed", LogMark{});
  ASSERT_GT(child, 0);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  ASSERT_TRUE(
      gatehouse_->WaitForLog("chroot " + jail + ": " + jail + ": a symbolic link", mark, 20))
      << gatehouse_->Log(mark);
  CommandResult client =
      RunCommand({"nc", "-N", "127.0.0.1", std::to_string(Port("jailed"))}, "hello\n", 3);
  EXPECT_NE(client.out, "hello\n");
  EXPECT_EQ(gatehouse_->Log(mark).find("jailed: start "), std::string::npos)
      << gatehouse_->Log(mark);
}

// unix_owner = an alias of root (another passwd name with uid 0): a warning.
// The alias lives in a private mount namespace's /etc/passwd only.
TEST_F(TrustTest, UnixOwnerNamingAUidZeroAliasWarns) {
  TempDir sockets("/tmp");
  std::string passwd =
      dir_.Write("passwd", ReadFile("/etc/passwd") + "toor:x:0:0::/root:/bin/sh\n");
  std::string main = WriteConfig(dir_, "",
                                 {{"u.conf", "[u]\nport = " + sockets.path() +
                                                 "/u.sock|unix\nexec = /bin/cat\nunix_owner = "
                                                 "toor\n"}});
  CommandResult check = RunCommand({"unshare", "-m", "--propagation", "private", "sh", "-c",
                                    "mount --bind \"$0\" /etc/passwd && exec \"$@\"", passwd,
                                    Gatehouse(), "--check", "--config", main});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("warning: " + dir_.path() +
                           "/services.d/u.conf:4: unix_owner: \"toor\" is uid 0: the socket "
                           "files go to root"),
            std::string::npos)
      << check.out << check.err;
}

// Not root, the same rules hold with gatehouse's own uid beside root: nobody's
// own tree loads, a file of another user (daemon, uid 1) in it does not.
TEST_F(TrustTest, NotRootItsOwnUidTakesRootsPlace) {
  TempDir bin("/tmp"), tree("/tmp");
  CopyExecutable(Gatehouse(), bin.path() + "/gatehouse");
  CopyExecutable(Runfile("child/gatehouse-child"), bin.path() + "/gatehouse-child");
  std::string main = WriteConfig(tree, "", {{"echo.conf", kEcho}});
  for (const std::string& path :
       {tree.path(), tree.path() + "/services.d", main, tree.path() + "/services.d/echo.conf"}) {
    ASSERT_EQ(chown(path.c_str(), kNobody, kNobody), 0) << path;
  }
  CommandResult own = AsNobody(bin.path() + "/gatehouse --check --config " + main);
  EXPECT_EQ(own.exit_code, 0) << own.out << own.err;
  EXPECT_NE(own.out.find("config OK"), std::string::npos) << own.out << own.err;

  std::string other =
      tree.Write("services.d/other.conf", "[other]\nport = 127.0.0.1:0\nexec = /bin/cat\n");
  ASSERT_EQ(chown(other.c_str(), 1, 1), 0);
  CommandResult foreign = AsNobody(bin.path() + "/gatehouse --check --config " + main);
  EXPECT_EQ(foreign.exit_code, 1) << foreign.out << foreign.err;
  EXPECT_NE(foreign.err.find(other + ": " + other +
                             ": owned by daemon (uid 1), mode 0644; "
                             "gatehouse reads it as uid 65534, so it and every folder above it "
                             "must be owned by root or uid 65534"),
            std::string::npos)
      << foreign.err;
}

}  // namespace
}  // namespace gatehouse::testing
