// systemd's notification protocol, read from a NOTIFY_SOCKET the test owns:
// READY=1 once every child is ready or has failed (STATUS names it),
// RELOADING=1 / READY=1 around a reload, STOPPING=1 on TERM.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// A datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  bool bound() const { return bound_; }
  // The next datagram, or "" after `timeout` seconds.
  std::string Next(double timeout_seconds = 10) {
    pollfd ready{fd_, POLLIN, 0};
    if (poll(&ready, 1, static_cast<int>(timeout_seconds * 1000)) != 1) return "";
    char buffer[4096];
    ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(Systemd, ReadyReloadingStoppingAndFailuresInStatus) {
  if (!IsRoot()) GTEST_SKIP() << "a service that fails its start needs a drop to nobody";
  TempDir dir;
  TempDir short_dir("/tmp");  // sun_path holds 107 bytes
  NotifySocket notify(short_dir.path() + "/notify");
  ASSERT_TRUE(notify.bound());
  // A program nobody cannot reach: that service's child fails its start.
  std::string hidden = dir.path() + "/hidden";
  mkdir(hidden.c_str(), 0700);
  CopyExecutable("/bin/cat", hidden + "/cat");
  std::string config =
      WriteConfig(dir, "",
                  {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"},
                   {"broken.conf", "[broken]\nport = 127.0.0.1:0\nexec = " + hidden + "/cat\n"}});
  GatehouseProcess::Launch launch;
  launch.wrapper = {"env", "NOTIFY_SOCKET=" + short_dir.path() + "/notify"};
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log", launch);
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();

  std::string ready = notify.Next();
  EXPECT_EQ(ready, "READY=1\nMAINPID=" + std::to_string(gatehouse.pid()) +
                       "\nSTATUS=2 services on 2 listeners, 0 programs running; failed to "
                       "start: broken")
      << gatehouse.Log();
  EXPECT_NE(gatehouse.Log().find("broken: child cannot serve"), std::string::npos)
      << gatehouse.Log();
  // Only the supervisor speaks to systemd: no child inherits NOTIFY_SOCKET.
  for (pid_t child : ChildPids(gatehouse.pid())) {
    std::string environ = ReadFile("/proc/" + std::to_string(child) + "/environ");
    EXPECT_EQ(environ.find("NOTIFY_SOCKET"), std::string::npos) << "child " << child;
  }

  kill(gatehouse.pid(), SIGHUP);
  std::string reloading = notify.Next();
  EXPECT_EQ(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << reloading;
  EXPECT_GT(std::stoull(reloading.substr(reloading.find('=', 12) + 1)), 0u);
  EXPECT_EQ(notify.Next().rfind("READY=1\nSTATUS=2 services on 2 listeners", 0), 0u);

  EXPECT_EQ(gatehouse.Stop(SIGTERM), 0);
  EXPECT_EQ(notify.Next(), "STOPPING=1");
}

TEST(Systemd, WithoutNotifySocketItStillStartsReloadsAndStops) {
  TempDir dir;
  std::string config =
      WriteConfig(dir, "", {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
  GatehouseProcess::Launch launch;
  launch.wrapper = {"env", "-u", "NOTIFY_SOCKET"};
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log", launch);
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();
  ASSERT_TRUE(gatehouse.WaitForLog("echo: ready"));
  kill(gatehouse.pid(), SIGHUP);
  ASSERT_TRUE(gatehouse.WaitForLog("reloaded:"));
  EXPECT_EQ(gatehouse.Stop(SIGTERM), 0) << gatehouse.Log();
}

// `systemctl kill -s SIGNAL gatehouse` signals every process of the unit: the
// service children and every running program too, which a USR2 or HUP ends.
// Whatever tells an administrator to signal gatehouse through systemctl says
// --kill-whom=main (or uses systemctl reload).
TEST(Systemd, EveryKillAdviceSignalsTheMainProcessOnly) {
  for (const char* file : {"README.md", "docs/systemd.md", "docs/configuration.md",
                           "docs/gatehouse.8", "docs/migrating.md",
                           "examples/systemd/gatehouse.service", "examples/logrotate/gatehouse"}) {
    std::string text = ReadFile(Runfile(file));
    ASSERT_FALSE(text.empty()) << file;
    for (size_t at = text.find("systemctl kill"); at != std::string::npos;
         at = text.find("systemctl kill", at + 1)) {
      std::string rest = text.substr(at, text.find('\n', at) - at);
      // "a plain `systemctl kill`" explains the trap; every command names its target.
      if (rest.rfind("systemctl kill`", 0) == 0) continue;
      EXPECT_EQ(rest.rfind("systemctl kill --kill-whom=main ", 0), 0u) << file << ": " << rest;
    }
  }
  EXPECT_NE(ReadFile(Runfile("examples/logrotate/gatehouse"))
                .find("systemctl kill --kill-whom=main -s HUP gatehouse.service"),
            std::string::npos);
}

// USR2 with a session open: the successor says READY=1 and MAINPID once its own
// services are ready, counting the old process's program; the old one hands
// MAINPID over and says nothing about stopping (it is no longer the main pid).
TEST(Systemd, AnUpgradeHandsMainpidOverAndTheSuccessorCountsTheOldSession) {
  TempDir dir;
  TempDir short_dir("/tmp");
  NotifySocket notify(short_dir.path() + "/notify");
  ASSERT_TRUE(notify.bound());
  std::string config =
      WriteConfig(dir, "log_level = 3\nshutdown_timeout = 1\n",
                  {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
  GatehouseProcess::Launch launch;
  launch.wrapper = {"env", "NOTIFY_SOCKET=" + short_dir.path() + "/notify"};
  GatehouseProcess gatehouse({"--config", config}, dir.path() + "/gatehouse.log", launch);
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();
  ASSERT_EQ(notify.Next().rfind("READY=1\nMAINPID=" + std::to_string(gatehouse.pid()), 0), 0u);
  int held = ConnectTcp("127.0.0.1", gatehouse.Port("echo"));
  ASSERT_GE(held, 0);
  ASSERT_EQ(write(held, "x\n", 2), 2);
  ASSERT_EQ(ReadUntil(held, "x\n"), "x\n");

  kill(gatehouse.pid(), SIGUSR2);
  ASSERT_TRUE(gatehouse.WaitForLog(" serves; this process stops accepting")) << gatehouse.Log();
  std::string log = gatehouse.Log();
  const std::string serves = "upgrade: successor pid ";
  std::string successor = std::to_string(std::atol(log.c_str() + log.find(serves) + serves.size()));
  std::vector<std::string> said;
  for (std::string next = notify.Next(); !next.empty(); next = notify.Next(2)) said.push_back(next);
  std::string all;
  for (const std::string& message : said) all += "[" + message + "] ";
  EXPECT_NE(std::find(said.begin(), said.end(), "MAINPID=" + successor), said.end()) << all;
  EXPECT_NE(std::find(said.begin(), said.end(),
                      "READY=1\nMAINPID=" + successor +
                          "\nSTATUS=1 services on 1 listeners, 1 programs running"),
            said.end())
      << all;
  EXPECT_EQ(all.find("STOPPING=1"), std::string::npos) << all;
  EXPECT_EQ(said.size(), 2u) << all;

  kill(static_cast<pid_t>(std::stol(successor)), SIGTERM);
  EXPECT_EQ(notify.Next(), "STOPPING=1");
  EXPECT_EQ(ReadUntil(held, "\x01never", 20), "");  // the old session ends with the stop
  close(held);
  EXPECT_EQ(gatehouse.Stop(0), 0) << gatehouse.Log();
}

}  // namespace
}  // namespace gatehouse::testing
