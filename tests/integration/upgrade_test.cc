// SIGUSR2: the binary upgrade. The successor (the binary on disk now, with the
// original command line) takes over every listening socket without a refused
// connection; a broken binary or a bad config leaves the old process serving.
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

pid_t ReadPid(const std::string& path) {
  std::string text = ReadFile(path);
  return text.empty() ? 0 : static_cast<pid_t>(std::stol(text));
}

bool Alive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

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
    // A private copy of both binaries, so the test can replace them on disk.
    mkdir((dir_.path() + "/bin").c_str(), 0755);
    binary_ = dir_.path() + "/bin/gatehouse";
    CopyExecutable(Runfile("supervisor/gatehouse"), binary_);
    CopyExecutable(Runfile("child/gatehouse-child"), dir_.path() + "/bin/gatehouse-child");
    pid_file_ = dir_.path() + "/gatehouse.pid";
    config_ = WriteConfig(dir_, "pid_file = " + pid_file_ + "\nlog_level = 3\n",
                          {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
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
    // The successor is not our child: end it by the pid it wrote.
    pid_t successor = ReadPid(pid_file_);
    if (gatehouse_ && successor != gatehouse_->pid() && Alive(successor)) {
      kill(successor, SIGTERM);
      WaitUntil([&] { return !Alive(successor); }, 20);
    }
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
};

TEST_F(UpgradeTest, SuccessorTakesOverUnderLoadWithoutARefusal) {
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
  dir_.Write("services.d/echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\nbogus = 1\n");
  kill(gatehouse_->pid(), SIGUSR2);
  ASSERT_TRUE(gatehouse_->WaitForLog("failed before it served")) << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("echo.conf:4: bogus: unknown key"), std::string::npos)
      << gatehouse_->Log();
  EXPECT_EQ(ReadPid(pid_file_), gatehouse_->pid());
  EXPECT_EQ(Echo(port_, "still here\n"), "still here\n");
}

}  // namespace
}  // namespace gatehouse::testing
