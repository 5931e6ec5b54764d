// The supervisor trusts nothing from a child: garbage, reports about connections
// it never sent, fds where none belong, a second Ready. Each ends that child
// (which is then restarted), and the other services go on serving.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

void Copy(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream(to, std::ios::binary) << in.rdbuf();
  chmod(to.c_str(), 0755);
}

TEST(HostileChild, ProtocolViolationsEndOnlyThatChild) {
  // gatehouse looks for gatehouse-child beside itself: put the hostile one there.
  TempDir dir;
  Copy(Runfile("supervisor/gatehouse"), dir.path() + "/gatehouse");
  Copy(Runfile("tests/programs/hostile_child"), dir.path() + "/gatehouse-child");
  Copy(Runfile("child/gatehouse-child"), dir.path() + "/gatehouse-child.real");
  std::map<std::string, std::string> services;
  for (const char* name : {"echo", "garbage", "unknown", "fdreport", "twiceready"}) {
    services[std::string(name) + ".conf"] =
        std::string("[") + name + "]\nport = 127.0.0.1:0\nexec = /bin/cat\n";
  }
  std::string config = WriteConfig(dir, "log_level = 3\n", services);
  // The copied binary, started by hand (GatehouseProcess runs the runfiles one).
  std::string log = dir.path() + "/gatehouse.log";
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl((dir.path() + "/gatehouse").c_str(), "gatehouse", "--config", config.c_str(), nullptr);
    _exit(127);
  }
  auto log_has = [&](const std::string& text) {
    return WaitUntil([&] { return ReadFile(log).find(text) != std::string::npos; });
  };
  EXPECT_TRUE(log_has("garbage: child channel: protocol violation: bad header; ending the child"))
      << ReadFile(log);
  EXPECT_TRUE(log_has("unknown: child broke the protocol (ProgramStarted for unknown connection)"))
      << ReadFile(log);
  EXPECT_TRUE(
      log_has("fdreport: child channel: protocol violation: Ready carried 1 fds, expected 0"))
      << ReadFile(log);
  EXPECT_TRUE(log_has("twiceready: child broke the protocol (unexpected Ready)")) << ReadFile(log);
  EXPECT_TRUE(log_has("garbage: starting a new child in 1 s")) << ReadFile(log);

  // The well-behaved service is untouched.
  ASSERT_TRUE(log_has("echo: ready"));
  std::smatch match;
  std::string text = ReadFile(log);
  ASSERT_TRUE(std::regex_search(text, match, std::regex("echo: listening on 127.0.0.1:([0-9]+)")));
  EXPECT_EQ(RunCommand({"nc", "-N", "127.0.0.1", match[1]}, "still here\n").out, "still here\n");
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), 0);  // gatehouse is still running

  kill(pid, SIGTERM);
  int status = 0;
  bool ended = WaitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 20);
  if (!ended) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  EXPECT_TRUE(ended);
}

}  // namespace
}  // namespace gatehouse::testing
