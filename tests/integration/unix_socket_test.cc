// unix_mode, unix_owner and unix_group: the socket file of a UNIX port gets the
// mode and owner the config names, other users connect as that mode says, and a
// reload or an upgrade changes them on the same socket (the same inode).
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// A uid and gid that no passwd or group entry names and no test process uses.
constexpr int kStranger = 23456;

struct SocketFile {
  bool exists = false;
  unsigned mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  ino_t inode = 0;
};

SocketFile StatSocket(const std::string& path) {
  SocketFile file;
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) return file;
  file.exists = true;
  file.mode = info.st_mode & 07777;
  file.uid = info.st_uid;
  file.gid = info.st_gid;
  file.inode = info.st_ino;
  return file;
}

uid_t UidOf(const char* name) {
  const passwd* entry = getpwnam(name);
  return entry ? entry->pw_uid : 0;
}

gid_t GidOf(const char* name) {
  const group* entry = getgrnam(name);
  return entry ? entry->gr_gid : 0;
}

// `hello` sent over the socket as uid/gid (no supplementary groups), through
// setpriv as the real process of that user would: the echo, or nc's error.
CommandResult EchoAs(int uid, int gid, const std::string& path) {
  return RunCommand({"setpriv", "--reuid=" + std::to_string(uid), "--regid=" + std::to_string(gid),
                     "--clear-groups", "nc", "-N", "-U", path},
                    "hello\n", 10);
}

class UnixSocketTest : public GatehouseTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "changing a socket file's owner and user needs root";
    nobody_ = UidOf("nobody");
    nogroup_ = GidOf("nogroup");
    if (nobody_ == 0 || nogroup_ == 0) GTEST_SKIP() << "no user nobody or group nogroup here";
  }
  std::string Service(const std::string& keys) const {
    return "[sock]\nport = " + path_ + "|unix\nexec = /bin/cat\n" + keys;
  }
  // Rewrites the service, sends HUP and waits for this reload's verdict.
  bool Reload(const std::string& keys) {
    dir_.Write("services.d/sock.conf", Service(keys));
    LogMark mark = gatehouse_->MarkLog();
    kill(gatehouse_->pid(), SIGHUP);
    return gatehouse_->WaitForLog("reloaded: ", mark);
  }

  TempDir short_dir_{"/tmp"};  // sun_path holds 107 bytes; $TEST_TMPDIR is longer
  std::string path_ = short_dir_.path() + "/s.sock";
  uid_t nobody_ = 0;
  gid_t nogroup_ = 0;
};

TEST_F(UnixSocketTest, DefaultIsMode0666OwnedByGatehouseAndAnyoneConnects) {
  ASSERT_TRUE(Start("", {{"sock.conf", Service("")}}));
  SocketFile file = StatSocket(path_);
  ASSERT_TRUE(file.exists) << gatehouse_->Log();
  EXPECT_EQ(file.mode, 0666u);
  EXPECT_EQ(file.uid, geteuid());
  EXPECT_EQ(file.gid, getegid());
  CommandResult stranger = EchoAs(kStranger, kStranger, path_);
  EXPECT_EQ(stranger.out, "hello\n") << stranger.err;
}

TEST_F(UnixSocketTest, ModeOwnerAndGroupDecideWhoConnects) {
  ASSERT_TRUE(Start("", {{"sock.conf", Service("unix_mode = 0660\nunix_owner = nobody\n"
                                               "unix_group = nogroup\n")}}));
  SocketFile file = StatSocket(path_);
  ASSERT_TRUE(file.exists) << gatehouse_->Log();
  EXPECT_EQ(file.mode, 0660u);
  EXPECT_EQ(file.uid, nobody_);
  EXPECT_EQ(file.gid, nogroup_);

  CommandResult owner = EchoAs(static_cast<int>(nobody_), kStranger, path_);
  EXPECT_EQ(owner.out, "hello\n") << owner.err;
  CommandResult member = EchoAs(kStranger, static_cast<int>(nogroup_), path_);
  EXPECT_EQ(member.out, "hello\n") << member.err;
  CommandResult stranger = EchoAs(kStranger, kStranger, path_);
  EXPECT_EQ(stranger.out, "");
  EXPECT_NE(stranger.err.find("Permission denied"), std::string::npos) << stranger.err;
  // The refusal came from the file's mode: gatehouse saw no connection to refuse.
  EXPECT_EQ(gatehouse_->Log().find("denied"), std::string::npos) << gatehouse_->Log();
}

TEST_F(UnixSocketTest, ReloadChangesTheModeAndOwnerOfTheSameSocket) {
  ASSERT_TRUE(Start("", {{"sock.conf", Service("unix_mode = 0600\n")}}));
  SocketFile before = StatSocket(path_);
  ASSERT_TRUE(before.exists) << gatehouse_->Log();
  EXPECT_EQ(before.mode, 0600u);
  EXPECT_NE(EchoAs(kStranger, kStranger, path_).err.find("Permission denied"), std::string::npos);

  ASSERT_TRUE(Reload("unix_mode = 0660\nunix_group = nogroup\n")) << gatehouse_->Log();
  SocketFile after = StatSocket(path_);
  ASSERT_TRUE(after.exists) << gatehouse_->Log();
  EXPECT_EQ(after.inode, before.inode) << "the socket was bound again";
  EXPECT_EQ(after.mode, 0660u);
  EXPECT_EQ(after.uid, geteuid());
  EXPECT_EQ(after.gid, nogroup_);
  CommandResult member = EchoAs(kStranger, static_cast<int>(nogroup_), path_);
  EXPECT_EQ(member.out, "hello\n") << member.err;

  // Without the keys again: gatehouse's own group and the default mode.
  ASSERT_TRUE(Reload("")) << gatehouse_->Log();
  SocketFile reset = StatSocket(path_);
  EXPECT_EQ(reset.inode, before.inode);
  EXPECT_EQ(reset.mode, 0666u);
  EXPECT_EQ(reset.gid, getegid());
  EXPECT_EQ(EchoAs(kStranger, kStranger, path_).out, "hello\n");
  EXPECT_EQ(gatehouse_->Log().find("error"), std::string::npos) << gatehouse_->Log();
}

TEST_F(UnixSocketTest, AnUpgradesSuccessorAppliesItsConfigToTheInheritedSocket) {
  std::string pid_file = dir_.path() + "/gatehouse.pid";
  ASSERT_TRUE(Start("pid_file = " + pid_file + "\n", {{"sock.conf", Service("")}}));
  SocketFile before = StatSocket(path_);
  ASSERT_EQ(before.mode, 0666u) << gatehouse_->Log();

  dir_.Write("services.d/sock.conf", Service("unix_mode = 0600\nunix_owner = nobody\n"));
  kill(gatehouse_->pid(), SIGUSR2);
  ASSERT_TRUE(gatehouse_->WaitForLog("serves; this process stops accepting")) << gatehouse_->Log();
  ASSERT_TRUE(WaitUntil([&] { return !gatehouse_->Running(); }, 20)) << gatehouse_->Log();
  std::string successor_text = ReadFile(pid_file);
  pid_t successor = successor_text.empty() ? 0 : static_cast<pid_t>(std::stol(successor_text));
  ASSERT_GT(successor, 0);
  ASSERT_NE(successor, gatehouse_->pid());

  SocketFile after = StatSocket(path_);
  EXPECT_TRUE(after.exists);
  EXPECT_EQ(after.inode, before.inode) << "the successor bound a new socket";
  EXPECT_EQ(after.mode, 0600u);
  EXPECT_EQ(after.uid, nobody_);
  CommandResult owner = EchoAs(static_cast<int>(nobody_), kStranger, path_);
  EXPECT_EQ(owner.out, "hello\n") << owner.err;
  EXPECT_NE(EchoAs(kStranger, kStranger, path_).err.find("Permission denied"), std::string::npos);

  // The successor is not our child: it is ended by the pid it wrote.
  kill(successor, SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return kill(successor, 0) != 0; }, 20));
}

TEST(UnixSocketConfigTest, UnknownNamesAndKeysWithoutAUnixPortAreFileLineErrors) {
  TempDir dir;
  std::string config =
      WriteConfig(dir, "",
                  {{"a.conf",
                    "[sock]\nport = /tmp/gatehouse-never-bound.sock|unix\nexec = /bin/cat\n"
                    "unix_owner = no-such-user-here\nunix_group = no-such-group-here\n"
                    "unix_mode = 0999\n"},
                   {"b.conf", "[tcp]\nport = 127.0.0.1:0\nexec = /bin/cat\nunix_mode = 0600\n"}});
  CommandResult check = RunCommand({Gatehouse(), "--config", config, "--check"});
  EXPECT_NE(check.exit_code, 0);
  std::string a = dir.path() + "/services.d/a.conf:";
  std::string b = dir.path() + "/services.d/b.conf:";
  EXPECT_NE(check.err.find(a + "4: unix_owner: no such user \"no-such-user-here\""),
            std::string::npos)
      << check.err;
  EXPECT_NE(check.err.find(a + "5: unix_group: no such group \"no-such-group-here\""),
            std::string::npos)
      << check.err;
  EXPECT_NE(check.err.find(a + "6: unix_mode: \"0999\" is not an octal file mode"),
            std::string::npos)
      << check.err;
  EXPECT_NE(check.err.find(b + "4: unix_mode: the service has no UNIX socket port"),
            std::string::npos)
      << check.err;
}

TEST(UnixSocketConfigTest, CheckPrintsTheKeysAndDefaultsApplyOnlyToUnixServices) {
  TempDir dir;
  std::string config =
      WriteConfig(dir, "[defaults]\nunix_mode = 0660\n",
                  {{"a.conf",
                    "[sock]\nport = /tmp/gatehouse-never-bound.sock|unix\nexec = /bin/cat\n"
                    "unix_group = 0\n"},
                   {"b.conf", "[tcp]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
  CommandResult check = RunCommand({Gatehouse(), "--config", config, "--check"});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("unix_mode 0660  unix_owner (gatehouse's user)  unix_group "),
            std::string::npos)
      << check.out;
  EXPECT_NE(check.out.find(" (gid 0)\n"), std::string::npos) << check.out;
  // The TCP service shows no socket file line.
  EXPECT_EQ(check.out.find("unix_mode", check.out.find("[tcp]")), std::string::npos) << check.out;
}

}  // namespace
}  // namespace gatehouse::testing
