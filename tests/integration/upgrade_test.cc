// SIGUSR2: the binary upgrade. The successor (the binary on disk now, with the
// original command line) takes over every listening socket without a refused
// connection; a broken binary, a bad config or a successor that hangs leaves the
// old process serving. Running sessions outlive every upgrade: they count for
// the successor's max_servers and end with its stop.
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

pid_t ReadPid(const std::string& path) {
  std::string text = ReadFile(path);
  return text.empty() ? 0 : static_cast<pid_t>(std::stol(text));
}

// True while `pid` runs. The test is a subreaper (generations whose parent
// ended come to it), so a zombie of ours is reaped here rather than counted.
bool Alive(pid_t pid) {
  if (pid <= 0) return false;
  waitpid(pid, nullptr, WNOHANG);
  return kill(pid, 0) == 0;
}

// Waits until `pid`, a child of ours by then (the test is a subreaper), has
// exited; its wait status, or -1 on timeout.
int WaitForExit(pid_t pid, double timeout_seconds = 30) {
  int status = -1;
  if (!WaitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout_seconds)) return -1;
  return status;
}

// The pids holding the listening TCP socket of 127.0.0.1:`port` (from
// /proc/net/tcp and every /proc/PID/fd): which gatehouse serves it.
std::set<pid_t> PidsHoldingListener(int port) {
  char local[32];
  snprintf(local, sizeof local, "0100007F:%04X", port);
  std::ifstream tcp("/proc/net/tcp");
  std::string line, inode;
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, address, remote, state, skip;
    fields >> slot >> address >> remote >> state;
    if (address != local || state != "0A") continue;
    for (int i = 0; i < 5; ++i) fields >> skip;  // tx:rx tr:when retrnsmt uid timeout
    fields >> inode;
  }
  std::set<pid_t> holders;
  if (inode.empty()) return holders;
  std::string target = "socket:[" + inode + "]";
  DIR* proc = opendir("/proc");
  while (dirent* entry = proc ? readdir(proc) : nullptr) {
    pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0) continue;
    std::string fds = "/proc/" + std::to_string(pid) + "/fd";
    DIR* dir = opendir(fds.c_str());
    while (dirent* fd = dir ? readdir(dir) : nullptr) {
      if (Link(fds + "/" + fd->d_name) == target) holders.insert(pid);
    }
    if (dir) closedir(dir);
  }
  if (proc) closedir(proc);
  return holders;
}

// Writes `text` and reads it back: the session's program still serves it.
bool Echoes(int fd, const std::string& text) {
  return write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
         ReadUntil(fd, text) == text;
}

std::string Echo(int port, const std::string& request) {
  int fd = ConnectTcp("127.0.0.1", port);
  if (fd < 0) return "(refused)";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "(write failed)";
  }
  shutdown(fd, SHUT_WR);
  std::string reply = ReadUntil(fd, "\x01never", 10);
  close(fd);
  return reply;
}

constexpr rlim_t kStartSoftFiles = 1024;

class UpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Generations whose parent (the generation before) ends come to the test,
    // which can then see how they exit.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    // A private copy of both binaries, so the test can replace them on disk.
    mkdir((dir_.path() + "/bin").c_str(), 0755);
    binary_ = dir_.path() + "/bin/gatehouse";
    CopyExecutable(Runfile("supervisor/gatehouse"), binary_);
    CopyExecutable(Runfile("child/gatehouse-child"), dir_.path() + "/bin/gatehouse-child");
    pid_file_ = dir_.path() + "/gatehouse.pid";
  }
  // Starts the first generation with `main` and `echo` added to its config.
  void Start(const std::string& main = "", const std::string& echo = "") {
    config_ = WriteConfig(dir_, "pid_file = " + pid_file_ + "\nlog_level = 3\n" + main,
                          {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n" + echo}});
    GatehouseProcess::Launch launch;
    launch.binary = binary_;
    // Started with a soft file limit below the hard one (as systemd starts
    // services: 1024), so that raising it shows.
    rlimit files{};
    getrlimit(RLIMIT_NOFILE, &files);
    if (files.rlim_max > kStartSoftFiles) {
      launch.wrapper = {
          "prlimit",
          "--nofile=" + std::to_string(kStartSoftFiles) + ":" + std::to_string(files.rlim_max),
          "--"};
    }
    gatehouse_ = std::make_unique<GatehouseProcess>(std::vector<std::string>{"--config", config_},
                                                    dir_.path() + "/gatehouse.log", launch);
    ASSERT_TRUE(gatehouse_->started()) << gatehouse_->Log();
    ASSERT_TRUE(gatehouse_->WaitForLog("echo: ready"));
    port_ = gatehouse_->Port("echo");
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    for (int fd : sessions_) close(fd);  // the old generation's last sessions end
    // The successor is not our child: end it by the pid it wrote.
    pid_t successor = ReadPid(pid_file_);
    if (gatehouse_ && successor != gatehouse_->pid() && Alive(successor)) {
      kill(successor, SIGTERM);
      WaitUntil([&] { return !Alive(successor); }, 20);
    }
  }
  // A connection held open, checked to echo; its program's pid in `program`.
  int OpenSession(const std::string& hello, pid_t* program) {
    int fd = ConnectTcp("127.0.0.1", port_);
    if (fd < 0) return -1;
    sessions_.push_back(fd);
    if (!Echoes(fd, hello)) return -1;
    *program = ProgramPid(*gatehouse_, fd, "echo");
    return fd;
  }
  // Sends USR2 to `generation` and waits until it says its successor serves;
  // returns the successor's pid (0 when it does not come).
  pid_t UpgradeFrom(pid_t generation) {
    LogMark mark = gatehouse_->MarkLog();
    std::string said =
        "gatehouse[" + std::to_string(generation) + "] notice: upgrade: successor pid ";
    kill(generation, SIGUSR2);
    if (!gatehouse_->WaitForLog(" serves; this process stops accepting", mark, 30)) return 0;
    std::string log = gatehouse_->Log(mark);
    size_t at = log.find(said);
    return at == std::string::npos ? 0
                                   : static_cast<pid_t>(std::atol(log.c_str() + at + said.size()));
  }
  // Replaces the binary on disk the way a package upgrade does (a new inode).
  void ReplaceBinary(const std::string& content) {
    std::string staged = binary_ + ".new";
    dir_.Write("bin/gatehouse.new", content);
    chmod(staged.c_str(), 0755);
    rename(staged.c_str(), binary_.c_str());
  }

  TempDir dir_;
  std::string binary_, pid_file_, config_;
  std::unique_ptr<GatehouseProcess> gatehouse_;
  int port_ = 0;
  std::vector<int> sessions_;  // closed at the end
};

TEST_F(UpgradeTest, SuccessorTakesOverUnderLoadWithoutARefusal) {
  ASSERT_NO_FATAL_FAILURE(Start());
  pid_t old_pid = gatehouse_->pid();
  std::atomic<bool> done{false};
  std::atomic<int> made{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 2000 && !done; ++i) {  // bounded in count and by the test's end
        std::string request = "client " + std::to_string(t) + " " + std::to_string(i) + "\n";
        ++made;
        if (Echo(port_, request) != request) ++failed;
      }
    });
  }
  usleep(100 * 1000);
  kill(old_pid, SIGUSR2);
  ASSERT_TRUE(gatehouse_->WaitForLog("serves; this process stops accepting")) << gatehouse_->Log();
  // The old process drains and exits; the successor serves on.
  EXPECT_TRUE(WaitUntil([&] { return !gatehouse_->Running(); }, 20)) << gatehouse_->Log();
  usleep(200 * 1000);
  done = true;
  for (auto& client : clients) client.join();

  pid_t successor = ReadPid(pid_file_);
  EXPECT_NE(successor, old_pid);
  EXPECT_TRUE(Alive(successor));
  EXPECT_EQ(failed.load(), 0) << made << " made\n" << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  EXPECT_NE(log.find("gatehouse[" + std::to_string(successor) + "] notice: upgrade: taking over"),
            std::string::npos)
      << log;
  EXPECT_EQ(Echo(port_, "after the upgrade\n"), "after the upgrade\n");
  // The original command line came along: the successor reads the same config.
  std::string cmdline = ReadFile("/proc/" + std::to_string(successor) + "/cmdline");
  EXPECT_NE(cmdline.find(config_), std::string::npos);
  std::cout << "connections during the upgrade: " << made << ", failed: " << failed << "\n";
}

// The old process raised its soft RLIMIT_NOFILE; the successor starts with the
// one gatehouse was started with, so its programs get that back too.
TEST_F(UpgradeTest, TheSuccessorsProgramsGetTheOriginalFileLimit) {
  rlimit ours{};
  getrlimit(RLIMIT_NOFILE, &ours);
  if (ours.rlim_max <= kStartSoftFiles) GTEST_SKIP() << "the hard file limit is too low here";
  ASSERT_NO_FATAL_FAILURE(Start());
  kill(gatehouse_->pid(), SIGUSR2);
  ASSERT_TRUE(gatehouse_->WaitForLog("serves; this process stops accepting")) << gatehouse_->Log();
  ASSERT_TRUE(WaitUntil([&] { return !gatehouse_->Running(); }, 20)) << gatehouse_->Log();
  pid_t successor = ReadPid(pid_file_);
  ASSERT_TRUE(Alive(successor));
  int held = ConnectTcp("127.0.0.1", port_);
  ASSERT_GE(held, 0);
  ASSERT_EQ(write(held, "x\n", 2), 2);
  ASSERT_EQ(ReadUntil(held, "x\n"), "x\n");
  pid_t program = ProgramPid(*gatehouse_, held, "echo");
  ASSERT_GT(program, 1) << gatehouse_->Log();
  // From /proc/PID/limits ("Max open files  SOFT  HARD  files"): prlimit() on a
  // process of another uid needs CAP_SYS_RESOURCE, which a container may lack.
  auto soft_files = [](pid_t pid) {
    std::string limits = ReadFile("/proc/" + std::to_string(pid) + "/limits");
    size_t at = limits.find("Max open files");
    return at == std::string::npos ? -1L : std::atol(limits.c_str() + at + 14);
  };
  EXPECT_EQ(soft_files(program), static_cast<long>(kStartSoftFiles))
      << "the program got the successor's raised limit";
  EXPECT_EQ(soft_files(successor), static_cast<long>(ours.rlim_max))
      << "the successor did not raise its own";
  close(held);
}

TEST_F(UpgradeTest, BrokenBinaryLeavesTheOldOneServing) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ReplaceBinary("#!/bin/sh\necho 'this binary is broken' >&2\nexit 3\n");
  kill(gatehouse_->pid(), SIGUSR2);
  ASSERT_TRUE(gatehouse_->WaitForLog("failed before it served; this process keeps serving"))
      << gatehouse_->Log();
  ASSERT_TRUE(gatehouse_->WaitForLog("(exit 3) before it served")) << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("this binary is broken"), std::string::npos);
  EXPECT_EQ(ReadPid(pid_file_), gatehouse_->pid());
  EXPECT_EQ(Echo(port_, "still here\n"), "still here\n");
  EXPECT_TRUE(gatehouse_->Running());
}

TEST_F(UpgradeTest, BadConfigLeavesTheOldOneServing) {
  ASSERT_NO_FATAL_FAILURE(Start());
  dir_.Write("services.d/echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\nbogus = 1\n");
  kill(gatehouse_->pid(), SIGUSR2);
  ASSERT_TRUE(gatehouse_->WaitForLog("failed before it served")) << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("echo.conf:4: bogus: unknown key"), std::string::npos)
      << gatehouse_->Log();
  EXPECT_EQ(ReadPid(pid_file_), gatehouse_->pid());
  EXPECT_EQ(Echo(port_, "still here\n"), "still here\n");
}

// Sessions of the old process run on after the successor serves, past
// shutdown_timeout (the upgrade's drain has no deadline of its own), and the
// successor's stop ends them: TERM reaches the older generation too.
TEST_F(UpgradeTest, SessionsRunOnThroughTheUpgradeAndEndWithTheSuccessorsStop) {
  ASSERT_NO_FATAL_FAILURE(Start("shutdown_timeout = 1\n"));
  pid_t old_pid = gatehouse_->pid();
  pid_t programs[2] = {0, 0};
  int first = OpenSession("first\n", &programs[0]);
  int second = OpenSession("second\n", &programs[1]);
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  ASSERT_GT(programs[0], 1) << gatehouse_->Log();
  ASSERT_GT(programs[1], 1) << gatehouse_->Log();

  pid_t successor = UpgradeFrom(old_pid);
  ASSERT_GT(successor, 0) << gatehouse_->Log();
  EXPECT_TRUE(Echoes(first, "after the upgrade\n"));
  EXPECT_TRUE(Echoes(second, "after the upgrade\n"));
  // What must not happen comes after shutdown_timeout (1 s): only waiting past
  // it shows it does not.
  usleep(2500 * 1000);
  EXPECT_TRUE(Echoes(first, "past shutdown_timeout\n")) << gatehouse_->Log();
  EXPECT_TRUE(Echoes(second, "past shutdown_timeout\n")) << gatehouse_->Log();
  EXPECT_TRUE(Alive(programs[0]) && Alive(programs[1]));
  EXPECT_TRUE(gatehouse_->Running()) << "the old process left before its sessions ended";
  EXPECT_EQ(gatehouse_->Log().find("TERM to "), std::string::npos) << gatehouse_->Log();

  // The stop of the current generation ends the old one's sessions as well.
  kill(successor, SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return !Alive(programs[0]) && !Alive(programs[1]); }, 20))
      << gatehouse_->Log();
  EXPECT_EQ(ReadUntil(first, "\x01never", 10), "");  // EOF
  EXPECT_TRUE(WaitUntil([&] { return !gatehouse_->Running(); }, 20)) << gatehouse_->Log();
  int status = WaitForExit(successor);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n"
                                                             << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Stop(0), 0);  // the old one exited 0 too
}

// QUIT to the generation that serves ends the old one's sessions at once, as it
// ends its own: the older one gets no grace either (shutdown_timeout is 600 s).
TEST_F(UpgradeTest, QuitToTheSuccessorEndsTheOldSessionsWithoutAGrace) {
  ASSERT_NO_FATAL_FAILURE(Start("shutdown_timeout = 600\n"));
  pid_t program = 0;
  int held = OpenSession("held\n", &program);
  ASSERT_GE(held, 0);
  ASSERT_GT(program, 1) << gatehouse_->Log();
  pid_t successor = UpgradeFrom(gatehouse_->pid());
  ASSERT_GT(successor, 0) << gatehouse_->Log();
  kill(successor, SIGQUIT);
  EXPECT_TRUE(WaitUntil([&] { return !Alive(program); }, 20)) << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Stop(0, 20), 0) << gatehouse_->Log();
  int status = WaitForExit(successor);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n"
                                                             << gatehouse_->Log();
}

// The old process's sessions still end by their service's timeout, and the old
// process leaves once they have: the upgrade's drain is bounded by them.
TEST_F(UpgradeTest, OldSessionsEndByTheirTimeoutAndTheOldProcessLeaves) {
  ASSERT_NO_FATAL_FAILURE(Start("shutdown_timeout = 600\n", "timeout = 2\n"));
  pid_t program = 0;
  int held = OpenSession("held\n", &program);
  ASSERT_GE(held, 0);
  ASSERT_GT(program, 1) << gatehouse_->Log();
  pid_t successor = UpgradeFrom(gatehouse_->pid());
  ASSERT_GT(successor, 0) << gatehouse_->Log();
  EXPECT_TRUE(Echoes(held, "after the upgrade\n"));
  EXPECT_TRUE(WaitUntil([&] { return !Alive(program); }, 20)) << gatehouse_->Log();
  EXPECT_EQ(ReadUntil(held, "\x01never", 10), "");  // EOF
  EXPECT_TRUE(WaitUntil([&] { return !gatehouse_->Running(); }, 20)) << gatehouse_->Log();
  EXPECT_TRUE(Alive(successor));
  EXPECT_EQ(Echo(port_, "newest\n"), "newest\n");
}

// The successor counts the old process's sessions against max_servers: with
// max_servers held open across the upgrade it rejects the next client, and
// takes one again once an old session has ended.
TEST_F(UpgradeTest, TheSuccessorCountsTheOldSessionsAgainstMaxServers) {
  ASSERT_NO_FATAL_FAILURE(
      Start("", "max_servers = 2\nmax_servers_action = reject\nbusy_message = busy\\n\n"));
  pid_t programs[2] = {0, 0};
  int first = OpenSession("first\n", &programs[0]);
  ASSERT_GE(first, 0);
  ASSERT_GE(OpenSession("second\n", &programs[1]), 0);
  pid_t successor = UpgradeFrom(gatehouse_->pid());
  ASSERT_GT(successor, 0) << gatehouse_->Log();

  int third = ConnectTcp("127.0.0.1", port_);
  ASSERT_GE(third, 0);
  EXPECT_EQ(ReadUntil(third, "\x01never", 10), "busy\n") << gatehouse_->Log();
  close(third);
  EXPECT_TRUE(gatehouse_->WaitForLog("gatehouse[" + std::to_string(successor) +
                                     "] notice: echo: 127.0.0.1:"))
      << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("rejected: 2 programs running"), std::string::npos)
      << gatehouse_->Log();

  // One old session ends: the successor has room for one client again.
  close(first);
  sessions_.erase(sessions_.begin());
  ASSERT_TRUE(WaitUntil([&] { return !Alive(programs[0]); }, 10));
  EXPECT_TRUE(WaitUntil([&] { return Echo(port_, "room again\n") == "room again\n"; }, 10))
      << gatehouse_->Log();
}

// A successor that never says it is ready (here the binary on disk is a script
// that sleeps) is killed after upgrade_timeout; the old process serves on and
// takes a later USR2.
TEST_F(UpgradeTest, ASuccessorThatHangsIsKilledAfterUpgradeTimeout) {
  ASSERT_NO_FATAL_FAILURE(Start("upgrade_timeout = 1\n"));
  std::string real_binary = ReadFile(binary_);
  // It gets as far as writing the pid file, then hangs.
  ReplaceBinary("#!/bin/sh\necho $$ > " + pid_file_ + "\nexec sleep 600\n");
  LogMark mark = gatehouse_->MarkLog();
  kill(gatehouse_->pid(), SIGUSR2);
  std::string started = "upgrade: started " + binary_ + " as pid ";
  ASSERT_TRUE(gatehouse_->WaitForLog(started, mark)) << gatehouse_->Log();
  std::string log = gatehouse_->Log(mark);
  pid_t hanging = static_cast<pid_t>(std::atol(log.c_str() + log.find(started) + started.size()));
  ASSERT_GT(hanging, 1);
  ASSERT_TRUE(gatehouse_->WaitForLog("not ready within 1 s; killing it", mark, 10))
      << gatehouse_->Log();
  EXPECT_TRUE(WaitUntil([&] { return !Alive(hanging); }, 10));
  EXPECT_TRUE(WaitUntil([&] { return ReadPid(pid_file_) == gatehouse_->pid(); }, 10))
      << "the pid file still names the successor that was killed";
  EXPECT_EQ(Echo(port_, "still here\n"), "still here\n");

  // A real successor under a loaded machine gets more than 1 s: HUP applies it.
  ReplaceBinary(real_binary);
  config_ = WriteConfig(dir_, "pid_file = " + pid_file_ + "\nlog_level = 3\nupgrade_timeout = 30\n",
                        {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
  mark = gatehouse_->MarkLog();
  kill(gatehouse_->pid(), SIGHUP);
  ASSERT_TRUE(gatehouse_->WaitForLog("reloaded:", mark)) << gatehouse_->Log();
  pid_t successor = UpgradeFrom(gatehouse_->pid());
  ASSERT_GT(successor, 0) << gatehouse_->Log();
  EXPECT_EQ(ReadPid(pid_file_), successor);
  EXPECT_TRUE(WaitUntil([&] { return !gatehouse_->Running(); }, 20)) << gatehouse_->Log();
  EXPECT_EQ(Echo(port_, "after the upgrade\n"), "after the upgrade\n");
}

// USR2 three times in a row, each to the generation that just took over while
// the first still holds a session: every generation survives the end of the
// ones before it, no request of a client loop running throughout fails, one
// generation serves at the end, and its TERM ends everything with exit 0.
TEST_F(UpgradeTest, ThreeUpgradesInARowUnderLoadWithASessionHeld) {
  ASSERT_NO_FATAL_FAILURE(Start("shutdown_timeout = 1\n"));
  pid_t held_program = 0;
  int held = OpenSession("held\n", &held_program);
  ASSERT_GE(held, 0);
  ASSERT_GT(held_program, 1) << gatehouse_->Log();

  std::atomic<bool> done{false};
  std::atomic<int> made{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 5000 && !done; ++i) {  // bounded in count and by the test's end
        std::string request = "client " + std::to_string(t) + " " + std::to_string(i) + "\n";
        ++made;
        if (Echo(port_, request) != request) ++failed;
      }
    });
  }
  std::vector<pid_t> generations = {gatehouse_->pid()};
  for (int round = 0; round < 3; ++round) {
    pid_t next = UpgradeFrom(generations.back());
    if (next <= 0) break;
    generations.push_back(next);
    EXPECT_EQ(ReadPid(pid_file_), next);
    EXPECT_TRUE(Echoes(held, "round " + std::to_string(round) + "\n"));
  }
  // The old code's failure comes when the first generation's drain ends
  // (shutdown_timeout, 1 s): the load runs on past it.
  int before = made;
  usleep(2500 * 1000);
  EXPECT_GT(made, before + 50) << "the load stalled";
  done = true;
  for (auto& client : clients) client.join();
  ASSERT_EQ(generations.size(), 4u) << gatehouse_->Log();
  EXPECT_EQ(failed.load(), 0) << made << " made\n" << gatehouse_->Log();
  std::cout << "connections during three upgrades: " << made << ", failed: " << failed << "\n";

  pid_t newest = generations.back();
  // The middle generations had no session: they are gone; the first holds one.
  EXPECT_TRUE(WaitUntil([&] { return !Alive(generations[1]) && !Alive(generations[2]); }, 20))
      << gatehouse_->Log();
  EXPECT_TRUE(Alive(newest)) << gatehouse_->Log();
  EXPECT_TRUE(gatehouse_->Running()) << gatehouse_->Log();
  EXPECT_EQ(PidsHoldingListener(port_), std::set<pid_t>{newest});
  EXPECT_TRUE(Echoes(held, "still held\n")) << gatehouse_->Log();
  EXPECT_EQ(Echo(port_, "newest\n"), "newest\n");

  kill(newest, SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return !Alive(held_program); }, 20)) << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Stop(0, 20), 0) << gatehouse_->Log();
  int status = WaitForExit(newest);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n"
                                                             << gatehouse_->Log();
  EXPECT_TRUE(PidsHoldingListener(port_).empty());
}

// Later generations come to the first one (the subreaper) when the one between
// them ends first; it must not wait for them: once its last session ends, it
// leaves while the newest serves on.
TEST_F(UpgradeTest, TheFirstGenerationLeavesWhenItsLastSessionEnds) {
  ASSERT_NO_FATAL_FAILURE(Start());
  pid_t program = 0;
  int held = OpenSession("held\n", &program);
  ASSERT_GE(held, 0);
  pid_t second = UpgradeFrom(gatehouse_->pid());
  ASSERT_GT(second, 0) << gatehouse_->Log();
  pid_t third = UpgradeFrom(second);
  ASSERT_GT(third, 0) << gatehouse_->Log();
  ASSERT_TRUE(WaitUntil([&] { return !Alive(second); }, 20)) << gatehouse_->Log();
  EXPECT_EQ(ParentPid(third), gatehouse_->pid()) << "the third generation was not reparented";
  EXPECT_TRUE(Echoes(held, "still held\n"));

  close(held);
  sessions_.clear();
  EXPECT_TRUE(WaitUntil([&] { return !gatehouse_->Running(); }, 20)) << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Stop(0), 0);
  EXPECT_TRUE(Alive(third));
  EXPECT_EQ(Echo(port_, "newest\n"), "newest\n");
}

// USR2 sent to each new generation the moment its pid file names it (inotify),
// five times in a row: a signal that comes before its handlers are in place is
// held for them, never taken with its default action (which ended the process,
// leaving a pid file that names nobody).
TEST_F(UpgradeTest, USR2TheMomentThePidFileNamesTheSuccessorIsNotLost) {
  ASSERT_NO_FATAL_FAILURE(Start());
  int watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  ASSERT_GE(watch, 0);
  ASSERT_GE(inotify_add_watch(watch, dir_.path().c_str(), IN_CLOSE_WRITE | IN_MOVED_TO), 0);
  // The pid the pid file names once it is rewritten with another than `current`,
  // read the moment inotify says the file was written (0 after 20 s).
  auto next_pid = [&](pid_t current) {
    for (int i = 0; i < 2000; ++i) {  // bounded: each wait is at most 10 ms
      pollfd written{watch, POLLIN, 0};
      poll(&written, 1, 10);
      char events[4096];
      while (read(watch, events, sizeof events) > 0) {
      }
      pid_t next = ReadPid(pid_file_);
      if (next != current && next > 0) return next;
    }
    return pid_t{0};
  };
  std::vector<pid_t> generations = {gatehouse_->pid()};
  kill(generations.back(), SIGUSR2);
  for (int round = 0; round < 5; ++round) {
    pid_t next = next_pid(generations.back());
    ASSERT_GT(next, 0) << "round " << round << "\n" << gatehouse_->Log();
    if (next == generations.back()) break;
    generations.push_back(next);
    if (round < 4) kill(next, SIGUSR2);  // at once: its handlers may not be there yet
  }
  close(watch);
  ASSERT_EQ(generations.size(), 6u) << gatehouse_->Log();
  pid_t newest = generations.back();
  EXPECT_TRUE(
      gatehouse_->WaitForLog("upgrade: successor pid " + std::to_string(newest) + " serves"))
      << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Log().find("before it served"), std::string::npos) << gatehouse_->Log();
  EXPECT_TRUE(Alive(newest));
  EXPECT_EQ(ReadPid(pid_file_), newest);
  EXPECT_EQ(Echo(port_, "newest\n"), "newest\n");
}

}  // namespace
}  // namespace gatehouse::testing
