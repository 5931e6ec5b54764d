// Only root configures root (common/config/trusted_path.h): config files, their
// folders, @FILE texts, a chroot and the log and pid_file folders that someone
// else could change are refused by LoadConfig (--check, start and reload alike);
// --check FILE on a copy warns about where the copy lies. group = root and a
// uid-0 unix_owner alias warn.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "common/config.h"
#include "tests/integration/harness.h"

namespace gatehouse {
namespace {

using testing::TempDir;

constexpr uid_t kNobody = 65534;

struct Loaded {
  bool ok = false;
  Config config;
  std::vector<std::string> errors;
  std::string All() const {
    std::string all;
    for (const std::string& e : errors) all += "error: " + e + "\n";
    for (const std::string& w : config.warnings) all += "warning: " + w + "\n";
    return all;
  }
  bool Warned(const std::string& needle) const {
    return std::any_of(config.warnings.begin(), config.warnings.end(),
                       [&](const std::string& w) { return w.find(needle) != std::string::npos; });
  }
};

Loaded Load(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"gatehouse"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  CommandLine command_line;
  std::string error;
  EXPECT_TRUE(ParseCommandLine(static_cast<int>(argv.size()), argv.data(), &command_line, &error))
      << error;
  Loaded loaded;
  loaded.ok = LoadConfig(command_line, &loaded.config, &loaded.errors);
  return loaded;
}

Loaded Load(const std::string& main) { return Load({"--config", main}); }

const char* kRootService =
    "[evil]\nport = 127.0.0.1:0\nuser = root\ncapabilities = all\nexec = /usr/bin/id\n";

bool IsRoot() { return geteuid() == 0; }

TEST(ConfigTrust, TheFilesOfARootOwnedTreeLoad) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "", {{"echo.conf", kRootService}});
  Loaded loaded = Load(main);
  EXPECT_TRUE(loaded.ok) << loaded.All();
}

TEST(ConfigTrust, AServiceFileOthersCanWriteIsRefused) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "", {{"evil.conf", kRootService}});
  std::string evil = dir.path() + "/services.d/evil.conf";
  ASSERT_EQ(chmod(evil.c_str(), 0666), 0);
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  EXPECT_NE(
      loaded.All().find("error: " + evil + ": " + evil + ": owned by root (uid 0), mode 0666"),
      std::string::npos)
      << loaded.All();
  ASSERT_EQ(chmod(evil.c_str(), 0620), 0);  // group-writable is others too
  EXPECT_FALSE(Load(main).ok);
}

TEST(ConfigTrust, AServiceFileOfAnotherUserIsRefused) {
  if (!IsRoot()) GTEST_SKIP() << "chown needs root";
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "", {{"evil.conf", kRootService}});
  std::string evil = dir.path() + "/services.d/evil.conf";
  ASSERT_EQ(chown(evil.c_str(), kNobody, static_cast<gid_t>(-1)), 0);
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  EXPECT_NE(loaded.All().find(evil + ": owned by nobody (uid 65534), mode 0644; gatehouse reads it "
                                     "as root, so it and every folder above it must be owned by "
                                     "root"),
            std::string::npos)
      << loaded.All();
}

TEST(ConfigTrust, AnyFileInAServicesDirOthersCanWriteIsRefused) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "", {{"a.conf", kRootService}});
  std::string services = dir.path() + "/services.d";
  ASSERT_EQ(chmod(services.c_str(), 0777), 0);
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  EXPECT_NE(loaded.All().find(services + ": owned by root (uid 0), mode 0777 (writable by group or "
                                         "others)"),
            std::string::npos)
      << loaded.All();
  // Empty, it is refused all the same: a file dropped there would be read.
  unlink((services + "/a.conf").c_str());
  std::ofstream(dir.path() + "/gatehouse.conf") << kRootService;
  EXPECT_FALSE(Load(main).ok);
}

TEST(ConfigTrust, AFolderAboveTheMainFileOthersCanWriteIsRefused) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "", {{"a.conf", kRootService}});
  ASSERT_EQ(chmod(dir.path().c_str(), 0757), 0);
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  EXPECT_NE(loaded.All().find(main + ": " + dir.path() + ": owned by root (uid 0), mode 0757"),
            std::string::npos)
      << loaded.All();
}

// /tmp: others may write a sticky folder, but not rename or remove what is in it.
TEST(ConfigTrust, AStickyFolderMayHoldATrustedTree) {
  TempDir sticky;
  ASSERT_EQ(chmod(sticky.path().c_str(), 01777), 0);
  TempDir dir(sticky.path().c_str());
  std::string main = testing::WriteConfig(dir, "", {{"a.conf", kRootService}});
  Loaded loaded = Load(main);
  EXPECT_TRUE(loaded.ok) << loaded.All();
  if (!IsRoot()) return;
  // The entry below it must be trusted itself.
  ASSERT_EQ(chown(dir.path().c_str(), kNobody, static_cast<gid_t>(-1)), 0);
  loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  EXPECT_NE(loaded.All().find(dir.path() + ": owned by nobody (uid 65534)"), std::string::npos)
      << loaded.All();
}

TEST(ConfigTrust, ASymlinkedServiceFileIsCheckedWhereItLeads) {
  TempDir dir, elsewhere;
  std::string main = testing::WriteConfig(dir, "", {});
  std::string real = elsewhere.Write("shared/a.conf", kRootService);
  ASSERT_EQ(symlink(real.c_str(), (dir.path() + "/services.d/a.conf").c_str()), 0);
  EXPECT_TRUE(Load(main).ok);
  ASSERT_EQ(chmod((elsewhere.path() + "/shared").c_str(), 0777), 0);
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  EXPECT_NE(loaded.All().find(elsewhere.path() + "/shared: owned by root (uid 0), mode 0777"),
            std::string::npos)
      << loaded.All();
}

// A copy being validated: where it lies is a warning; the rest is not.
TEST(ConfigTrust, CheckFileWarnsAboutWhereTheCopyLies) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, std::string(kRootService), {});
  ASSERT_EQ(chmod(main.c_str(), 0664), 0);
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  Loaded as_config = Load(main);
  EXPECT_FALSE(as_config.ok);
  Loaded copy = Load({"--check", main});
  EXPECT_TRUE(copy.ok) << copy.All();
  EXPECT_TRUE(copy.Warned(main + ": " + dir.path() + ": owned by root (uid 0), mode 0777"))
      << copy.All();
  EXPECT_TRUE(copy.Warned("a warning for a copy checked with --check FILE")) << copy.All();
  // Its services.d is no part of where the copy itself lies.
  std::string beside = dir.Write("services.d/b.conf", "[b]\nport = 127.0.0.1:0\nexec = /bin/cat\n");
  ASSERT_EQ(chmod(beside.c_str(), 0666), 0);
  copy = Load({"--check", main});
  EXPECT_FALSE(copy.ok);
  EXPECT_NE(copy.All().find("error: " + beside + ": " + beside +
                            ": owned by root (uid 0), mode "
                            "0666"),
            std::string::npos)
      << copy.All();
}

TEST(ConfigTrust, CheckFileAndConfigTogetherAreAUsageError) {
  std::vector<const char*> argv = {"gatehouse", "--check", "a.conf", "--config", "b.conf"};
  CommandLine command_line;
  std::string error;
  EXPECT_FALSE(ParseCommandLine(static_cast<int>(argv.size()), argv.data(), &command_line, &error));
  EXPECT_NE(error.find("give the file once"), std::string::npos) << error;
}

TEST(ConfigTrust, ABannerFileIsTrustedNotFollowedAndWarnedWhenPrivate) {
  TempDir dir;
  std::string motd = dir.Write("motd", "welcome\n");
  std::string secret = dir.Write("secret", "root:$6$...\n");
  ASSERT_EQ(chmod(secret.c_str(), 0600), 0);
  ASSERT_EQ(symlink(secret.c_str(), (dir.path() + "/link").c_str()), 0);
  auto load_banner = [&](const std::string& banner) {
    return Load(testing::WriteConfig(
        dir, "", {{"b.conf", "[b]\nport = 127.0.0.1:0\nexec = /bin/cat\nbanner = " + banner}}));
  };
  Loaded plain = load_banner("@motd");
  EXPECT_TRUE(plain.ok) << plain.All();
  EXPECT_FALSE(plain.Warned("world-readable")) << plain.All();

  Loaded hidden = load_banner("@secret");
  EXPECT_TRUE(hidden.ok) << hidden.All();
  EXPECT_TRUE(hidden.Warned("b.conf:4: banner: \"" + secret +
                            "\" is not world-readable, yet every client receives it"))
      << hidden.All();

  Loaded linked = load_banner("@link");
  EXPECT_FALSE(linked.ok);
  EXPECT_NE(linked.All().find("b.conf:4: banner: \"" + dir.path() +
                              "/link\" is a symbolic link; name the file itself"),
            std::string::npos)
      << linked.All();

  ASSERT_EQ(chmod(motd.c_str(), 0646), 0);
  Loaded writable = load_banner("@motd");
  EXPECT_FALSE(writable.ok);
  EXPECT_NE(writable.All().find("banner: \"" + motd + "\": owned by root (uid 0), mode 0646"),
            std::string::npos)
      << writable.All();
  ASSERT_EQ(chmod(motd.c_str(), 0644), 0);
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  EXPECT_FALSE(load_banner("@motd").ok);
}

// shadow is 0640 root:shadow: trusted, but not for every client's eyes.
TEST(ConfigTrust, BannerEtcShadowWarns) {
  struct stat info {};
  if (stat("/etc/shadow", &info) != 0) GTEST_SKIP() << "no /etc/shadow";
  TempDir dir;
  Loaded loaded = Load(testing::WriteConfig(
      dir, "", {{"b.conf", "[b]\nport = 127.0.0.1:0\nexec = /bin/cat\nbanner = @/etc/shadow\n"}}));
  EXPECT_TRUE(loaded.Warned("banner: \"/etc/shadow\" is not world-readable")) << loaded.All();
}

TEST(ConfigTrust, AChrootOthersCouldReplaceIsRefused) {
  if (!IsRoot()) GTEST_SKIP() << "chroot needs root";
  TempDir dir;
  std::string jail = dir.path() + "/jail";
  ASSERT_EQ(mkdir(jail.c_str(), 0755), 0);
  auto load_jail = [&](const std::string& path) {
    return Load(testing::WriteConfig(
        dir, "",
        {{"j.conf",
          "[j]\nport = 127.0.0.1:0\nmode = builtin\nbuiltin = echo\nchroot = " + path + "\n"}}));
  };
  Loaded fine = load_jail(jail);
  EXPECT_TRUE(fine.ok) << fine.All();

  ASSERT_EQ(chmod(jail.c_str(), 0775), 0);
  Loaded writable = load_jail(jail);
  EXPECT_FALSE(writable.ok);
  EXPECT_NE(writable.All().find("j.conf:5: chroot: " + jail + ": owned by root (uid 0), mode 0775"),
            std::string::npos)
      << writable.All();
  ASSERT_EQ(chmod(jail.c_str(), 0755), 0);

  std::string link = dir.path() + "/link";
  ASSERT_EQ(symlink(jail.c_str(), link.c_str()), 0);
  Loaded linked = load_jail(link);
  EXPECT_FALSE(linked.ok);
  EXPECT_NE(linked.All().find("chroot: " + link + ": a symbolic link; every folder of a chroot"),
            std::string::npos)
      << linked.All();

  ASSERT_EQ(chown(dir.path().c_str(), kNobody, static_cast<gid_t>(-1)), 0);
  Loaded foreign = load_jail(jail);
  EXPECT_FALSE(foreign.ok);
  EXPECT_NE(foreign.All().find("chroot: " + dir.path() + ": owned by nobody (uid 65534)"),
            std::string::npos)
      << foreign.All();
}

TEST(ConfigTrust, LogAndPidFileFoldersOthersCanWriteAreRefused) {
  TempDir dir, logs;
  ASSERT_EQ(chmod(logs.path().c_str(), 0777), 0);
  std::string main =
      testing::WriteConfig(dir,
                           "log_file = " + logs.path() +
                               "/gatehouse.log\npid_file = " + logs.path() + "/gatehouse.pid\n",
                           {{"a.conf", kRootService}});
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  EXPECT_NE(loaded.All().find("gatehouse.conf:1: log_file: " + logs.path() +
                              ": owned by root "
                              "(uid 0), mode 0777"),
            std::string::npos)
      << loaded.All();
  EXPECT_NE(loaded.All().find("gatehouse.conf:2: pid_file: " + logs.path() + ": owned by root"),
            std::string::npos)
      << loaded.All();

  ASSERT_EQ(chmod(logs.path().c_str(), 01777), 0);  // sticky: fine
  EXPECT_TRUE(Load(main).ok) << Load(main).All();

  ASSERT_EQ(symlink("/etc/passwd", (logs.path() + "/gatehouse.log").c_str()), 0);
  loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  EXPECT_NE(loaded.All().find("log_file: " + logs.path() +
                              "/gatehouse.log is a symbolic link; gatehouse does not follow one"),
            std::string::npos)
      << loaded.All();
}

TEST(ConfigTrust, GroupRootWithAnotherUserKeepsPrivileges) {
  if (!IsRoot()) GTEST_SKIP() << "identities are changed as root only";
  TempDir dir;
  for (const char* group : {"root", "0"}) {
    Loaded loaded = Load(testing::WriteConfig(
        dir, "",
        {{"g.conf", std::string("[g]\nport = 127.0.0.1:0\nexec = /bin/cat\nuser = nobody\n"
                                "group = ") +
                        group + "\n"}}));
    EXPECT_TRUE(loaded.ok) << loaded.All();
    EXPECT_TRUE(
        loaded.Warned("[g] keeps privileges (group = root) (gid 0: reads and writes every "
                      "file open to group root)"))
        << group << "\n"
        << loaded.All();
  }
  Loaded plain = Load(testing::WriteConfig(
      dir, "", {{"g.conf", "[g]\nport = 127.0.0.1:0\nexec = /bin/cat\nuser = nobody\n"}}));
  EXPECT_FALSE(plain.Warned("keeps privileges")) << plain.All();
}

}  // namespace
}  // namespace gatehouse
