// SIGHUP reloads under load: clients keep getting served while services change,
// come and go; a kept listener keeps its very socket; a bad config changes nothing.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/config.h"
#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// The inode of the socket listening on 127.0.0.1:port, from /proc/net/tcp.
std::string ListeningInode(int port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  char wanted[32];
  snprintf(wanted, sizeof wanted, "0100007F:%04X", port);
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    if (local == wanted && state == "0A") return inode;
  }
  return "";
}

// One request: send `request`, close our side, read everything.
bool Exchange(int port, const std::string& request, std::string* reply) {
  int fd = ConnectTcp("127.0.0.1", port);
  if (fd < 0) return false;
  bool sent = write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size());
  shutdown(fd, SHUT_WR);
  *reply = ReadUntil(fd, "\x01never", 10);
  close(fd);
  return sent;
}

class ReloadTest : public ::testing::Test {
 protected:
  void WriteServices(int version, bool with_extra) {
    dir_.Write("services.d/keep.conf", "[keep]\nport = 127.0.0.1:0\nexec = /bin/cat\n");
    dir_.Write("services.d/change.conf",
               "[change]\nport = 127.0.0.1:0\nexec = /bin/sh\nargs = -c 'echo v" +
                   std::to_string(version) + "; exec cat'\n");
    std::string extra = dir_.path() + "/services.d/extra.conf";
    if (with_extra) {
      dir_.Write("services.d/extra.conf", "[extra]\nport = 127.0.0.1:0\nexec = /bin/cat\n");
    } else {
      unlink(extra.c_str());
    }
  }
  // Starts gatehouse on `main` (logging to gatehouse.log) and waits until it is ready.
  ::testing::AssertionResult Launch(const std::string& main) {
    gatehouse_ = std::make_unique<GatehouseProcess>(std::vector<std::string>{"--config", main},
                                                    dir_.path() + "/gatehouse.log");
    if (gatehouse_->started()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "gatehouse did not start:\n" << gatehouse_->Log();
  }
  // Sends HUP and waits for the verdict line number `reloads` (reloaded or refused).
  bool Hup(int* verdicts, const std::string& expected) {
    kill(gatehouse_->pid(), SIGHUP);
    ++*verdicts;
    int wanted = *verdicts;
    return WaitUntil([&] {
             std::string log = gatehouse_->Log();
             return static_cast<int>(Count(log, "reloaded: ") + Count(log, "reload refused")) >=
                    wanted;
           }) &&
           Count(gatehouse_->Log(), expected) > 0;
  }

  TempDir dir_;
  std::unique_ptr<GatehouseProcess> gatehouse_;
};

TEST_F(ReloadTest, TwentyHupsUnderLoadDropNothing) {
  WriteServices(1, false);
  std::string main = WriteConfig(dir_, "log_level = 3\n", {});
  ASSERT_TRUE(Launch(main));
  int keep_port = gatehouse_->Port("keep");
  int change_port = gatehouse_->Port("change");
  ASSERT_GT(keep_port, 0);
  ASSERT_GT(change_port, 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("keep: ready") && gatehouse_->WaitForLog("change: ready"));
  std::string inode_before = ListeningInode(keep_port);
  ASSERT_FALSE(inode_before.empty());

  // Long-running connections opened before the reloads, to both services.
  std::vector<int> long_running;
  for (int port : {keep_port, keep_port, change_port, change_port}) {
    int fd = ConnectTcp("127.0.0.1", port);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "first half,", 11), 11);
    long_running.push_back(fd);
  }

  std::atomic<bool> storm_over{false};
  std::atomic<int> made{0}, failed{0}, keep_served{0}, change_served{0};
  std::vector<std::string> failures;
  std::mutex failures_mutex;
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&, t] {
      // Bounded: at most 300 requests per client, and only while the storm lasts.
      for (int i = 0; i < 300 && !storm_over; ++i) {
        bool to_keep = (i + t) % 2 == 0;
        std::string request =
            "client " + std::to_string(t) + " request " + std::to_string(i) + "\n";
        std::string reply;
        bool ok = Exchange(to_keep ? keep_port : change_port, request, &reply);
        if (to_keep) {
          ok = ok && reply == request;
        } else {
          ok = ok && (reply == "v1\n" + request || reply == "v2\n" + request);
        }
        ++made;
        (to_keep ? keep_served : change_served)++;
        if (!ok) {
          ++failed;
          std::lock_guard<std::mutex> lock(failures_mutex);
          failures.push_back((to_keep ? "keep: " : "change: ") + request + " -> \"" + reply + "\"");
        }
      }
    });
  }

  int verdicts = 0;
  for (int hup = 1; hup <= 20; ++hup) {
    if (hup == 10) {
      // A bad config mid-storm: refused, nothing changes.
      dir_.Write("services.d/broken.conf", "[broken]\nport = 127.0.0.1:0\nexec = relative\n");
      EXPECT_TRUE(Hup(&verdicts, "reload refused")) << gatehouse_->Log();
      unlink((dir_.path() + "/services.d/broken.conf").c_str());
      continue;
    }
    // Odd reloads change the program of [change]; every third adds or removes [extra].
    WriteServices(hup % 2 == 0 ? 1 : 2, hup % 3 == 0);
    EXPECT_TRUE(Hup(&verdicts, "reloaded: ")) << gatehouse_->Log();
    usleep(50 * 1000);  // let clients run against each new table
  }
  storm_over = true;
  for (auto& client : clients) client.join();

  // Every long-running connection completes with all its bytes.
  for (size_t i = 0; i < long_running.size(); ++i) {
    int fd = long_running[i];
    ASSERT_EQ(write(fd, "second half\n", 12), 12);
    shutdown(fd, SHUT_WR);
    std::string reply = ReadUntil(fd, "\x01never", 10);
    close(fd);
    std::string expected = "first half,second half\n";
    if (i >= 2) expected = "v1\n" + expected;  // started before any change
    EXPECT_EQ(reply, expected) << "long-running connection " << i;
  }

  std::ostringstream shown;
  for (size_t i = 0; i < failures.size() && i < 10; ++i) shown << failures[i] << "\n";
  EXPECT_EQ(failed.load(), 0) << made << " made\n" << shown.str() << gatehouse_->Log();
  EXPECT_GT(made.load(), 100);
  EXPECT_EQ(ListeningInode(keep_port), inode_before) << "the kept listener was re-bound";
  std::cout << "connections made during 20 reloads: " << made << ", failed: " << failed << "\n";

  // Counts stayed exact across the reloads: every request and the long-running ones.
  int usr1_mark = static_cast<int>(Count(gatehouse_->Log(), "status: keep:"));
  kill(gatehouse_->pid(), SIGUSR1);
  ASSERT_TRUE(WaitUntil(
      [&] { return static_cast<int>(Count(gatehouse_->Log(), "status: keep:")) > usr1_mark; }));
  std::string log = gatehouse_->Log();
  EXPECT_NE(log.find("served " + std::to_string(keep_served + 2) + ","), std::string::npos) << log;
  EXPECT_NE(log.find("served " + std::to_string(change_served + 2) + ","), std::string::npos)
      << log;
}

TEST_F(ReloadTest, BadConfigKeepsEverythingAndSaysWhy) {
  WriteServices(1, false);
  std::string main = WriteConfig(dir_, "", {});
  ASSERT_TRUE(Launch(main));
  int port = gatehouse_->Port("change");
  dir_.Write("services.d/change.conf",
             "[change]\nport = 127.0.0.1:0\nexec = /bin/sh\nargs = -c 'echo v2; exec cat'\n"
             "user = no-such-user-here\n");
  int verdicts = 0;
  ASSERT_TRUE(Hup(&verdicts, "reload refused")) << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  EXPECT_NE(log.find("change.conf:5: user: no such user"), std::string::npos) << log;
  std::string reply;
  ASSERT_TRUE(Exchange(port, "x\n", &reply));
  EXPECT_EQ(reply, "v1\nx\n") << "the running config must stay";
}

TEST_F(ReloadTest, AddedServiceServesAndRemovedServiceClosesItsPort) {
  WriteServices(1, false);
  std::string main = WriteConfig(dir_, "", {});
  ASSERT_TRUE(Launch(main));
  int verdicts = 0;
  WriteServices(1, true);
  ASSERT_TRUE(Hup(&verdicts, "reloaded: 3 services")) << gatehouse_->Log();
  int extra = gatehouse_->Port("extra");
  ASSERT_GT(extra, 0) << gatehouse_->Log();
  std::string reply;
  ASSERT_TRUE(Exchange(extra, "hello extra\n", &reply));
  EXPECT_EQ(reply, "hello extra\n");

  WriteServices(1, false);
  ASSERT_TRUE(Hup(&verdicts, "reloaded: 2 services")) << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("extra: closed 127.0.0.1:" + std::to_string(extra)),
            std::string::npos);
  EXPECT_EQ(ConnectTcp("127.0.0.1", extra), -1) << "the removed service's port still accepts";
}

TEST_F(ReloadTest, ClientsWaitInTheBacklogWhileACrashedChildRestarts) {
  WriteServices(1, false);
  std::string main = WriteConfig(dir_, "", {});
  ASSERT_TRUE(Launch(main));
  ASSERT_TRUE(gatehouse_->WaitForLog("keep: ready"));
  int port = gatehouse_->Port("keep");
  std::string keep_child = gatehouse_->Log();
  size_t at = keep_child.find("keep: ready (child pid ");
  pid_t child = std::stoi(keep_child.substr(at + 23));
  kill(child, SIGKILL);
  ASSERT_TRUE(gatehouse_->WaitForLog("keep: starting a new child in 1 s")) << gatehouse_->Log();
  // During the back-off the connection waits in the kernel's backlog: accepted by
  // the kernel, not by gatehouse, and served once the new child is ready.
  int fd = ConnectTcp("127.0.0.1", port);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "waited\n", 7), 7);
  shutdown(fd, SHUT_WR);
  EXPECT_EQ(ReadUntil(fd, "\x01never", 10), "waited\n") << gatehouse_->Log();
  close(fd);
  std::string log = gatehouse_->Log();
  EXPECT_EQ(log.find("refused"), std::string::npos) << log;
  EXPECT_LT(log.find("starting a new child"), log.rfind("keep: ready")) << log;
}

// HUP applies the services and the log keys; keys that need a restart are named
// and ignored. The log file is reopened even when the reload is refused, so
// logrotate can move it away and HUP.
TEST_F(ReloadTest, RestartOnlyKeysAreNamedAndTheLogIsReopenedEvenWhenRefused) {
  WriteServices(1, false);
  std::string log = dir_.path() + "/gatehouse.log";
  std::string main =
      WriteConfig(dir_, "log_file = " + log + "\npid_file = " + dir_.path() + "/a.pid\n", {});
  gatehouse_ = std::make_unique<GatehouseProcess>(std::vector<std::string>{"--config", main}, log);
  ASSERT_TRUE(gatehouse_->started()) << ReadFile(log);
  int port = gatehouse_->Port("keep");

  // logrotate: the file is moved away, a bad config arrives, HUP.
  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);
  dir_.Write("services.d/keep.conf", "[keep]\nport = 127.0.0.1:0\nexec = relative\n");
  kill(gatehouse_->pid(), SIGHUP);
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(log).find("reload refused") != std::string::npos; }))
      << ReadFile(log + ".1");
  EXPECT_EQ(ReadFile(log + ".1").find("reload refused"), std::string::npos);
  std::string reply;
  ASSERT_TRUE(Exchange(port, "still\n", &reply));
  EXPECT_EQ(reply, "still\n");

  // A good config that also moves pid_file: applied, pid_file named and kept.
  WriteServices(1, false);
  dir_.Write("gatehouse.conf", "log_file = " + log + "\npid_file = " + dir_.path() + "/b.pid\n");
  kill(gatehouse_->pid(), SIGHUP);
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(log).find("reloaded:") != std::string::npos; }))
      << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("reload: pid_file changed; it takes effect only after a restart"),
            std::string::npos)
      << ReadFile(log);
  EXPECT_FALSE(ReadFile(dir_.path() + "/a.pid").empty());
  EXPECT_TRUE(ReadFile(dir_.path() + "/b.pid").empty());

  // services_dir too: the services are read from the running folder.
  dir_.Write("other.d/other.conf", "[other]\nport = 127.0.0.1:0\nexec = /bin/cat\n");
  dir_.Write("gatehouse.conf", "log_file = " + log + "\npid_file = " + dir_.path() +
                                   "/a.pid\nservices_dir = other.d\n");
  size_t before = Count(ReadFile(log), "reloaded:");
  kill(gatehouse_->pid(), SIGHUP);
  ASSERT_TRUE(WaitUntil([&] { return Count(ReadFile(log), "reloaded:") > before; }))
      << ReadFile(log);
  EXPECT_NE(
      ReadFile(log).find("reload: services_dir changed; it takes effect only after a restart"),
      std::string::npos)
      << ReadFile(log);
  EXPECT_EQ(ReadFile(log).find("other: listening"), std::string::npos) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("reloaded: 2 services"), std::string::npos) << ReadFile(log);
}

// Two names whose uids collide: the one that takes a removed service's uid must
// wait until no program of the removed one runs with it.
TEST_F(ReloadTest, ADynamicUidIsNotReusedWhileAProgramHoldsIt) {
  if (!IsRoot()) GTEST_SKIP() << "services get uids of their own as root";
  auto [first, second] = CollidingServiceNames();
  ASSERT_FALSE(second.empty());
  std::string main =
      WriteConfig(dir_, "", {{"a.conf", "[" + first + "]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
  ASSERT_TRUE(Launch(main));
  int held = ConnectTcp("127.0.0.1", gatehouse_->Port(first));
  ASSERT_GE(held, 0);
  ASSERT_EQ(write(held, "x\n", 2), 2);
  ASSERT_EQ(ReadUntil(held, "x\n"), "x\n");

  unlink((dir_.path() + "/services.d/a.conf").c_str());
  dir_.Write("services.d/b.conf", "[" + second + "]\nport = 127.0.0.1:0\nexec = /bin/cat\n");
  int verdicts = 0;
  ASSERT_TRUE(Hup(&verdicts, "reload refused")) << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("which service " + first + " still runs programs as"),
            std::string::npos)
      << gatehouse_->Log();
  // The held connection is undisturbed; once it ends, the same reload goes through.
  ASSERT_EQ(write(held, "y\n", 2), 2);
  EXPECT_EQ(ReadUntil(held, "y\n"), "y\n");
  close(held);
  ASSERT_TRUE(WaitUntil(
      [&] {
        kill(gatehouse_->pid(), SIGHUP);
        ++verdicts;
        return WaitUntil([&] {
                 std::string log = gatehouse_->Log();
                 return static_cast<int>(Count(log, "reloaded: ") + Count(log, "reload refused")) >=
                        verdicts;
               }) &&
               Count(gatehouse_->Log(), "reloaded: ") > 0;
      },
      10))
      << gatehouse_->Log();
}

}  // namespace
}  // namespace gatehouse::testing
