// A child that stops taking connections (here: SIGSTOP) must not lose any. The
// supervisor queues them, with their fds, and hands them over when the child
// resumes — also when it runs unprivileged with a small RLIMIT_NOFILE, where the
// kernel refuses more fds in flight (ETOOMANYREFS) long before the socket is full.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <set>
#include <sstream>
#include <string>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

constexpr int kConnections = 150;

class Backpressure : public ::testing::TestWithParam<bool> {};

TEST_P(Backpressure, StoppedChildLosesNoConnections) {
  bool unprivileged = GetParam();
  if (unprivileged && !IsRoot()) GTEST_SKIP() << "setpriv needs root";
  TempDir world("/tmp");  // readable by nobody, unlike Bazel's tree
  CopyExecutable(Runfile("supervisor/gatehouse"), world.path() + "/gatehouse");
  CopyExecutable(Runfile("child/gatehouse-child"), world.path() + "/gatehouse-child");
  // At 64 fds the default max_servers (256) does not fit the fd budget: 16 does.
  std::string config =
      WriteConfig(world, "",
                  {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n" +
                                     std::string(unprivileged ? "max_servers = 16\n" : "")}});
  GatehouseProcess::Launch launch;
  launch.binary = world.path() + "/gatehouse";
  if (unprivileged) {
    launch.wrapper = {"prlimit",       "--nofile=64:64", "--", "setpriv", "--reuid=65534",
                      "--regid=65534", "--clear-groups", "--"};
  }
  GatehouseProcess gatehouse({"--config", config}, world.path() + "/gatehouse.log", launch);
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();
  ASSERT_TRUE(gatehouse.WaitForLog("echo: ready"));
  std::vector<pid_t> children = ChildPids(gatehouse.pid());
  ASSERT_EQ(children.size(), 1u);
  int port = gatehouse.Port("echo");
  // The fd budget keeps max_servers = 16 within 64 fds, so the supervisor never
  // runs out by itself: its soft limit is set to the fds it has open (as its own
  // uid: the test may lack CAP_SYS_RESOURCE) while the child sleeps.
  auto soft_limit = [&](size_t soft) {
    return RunCommand({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "prlimit",
                       "--pid", std::to_string(gatehouse.pid()),
                       "--nofile=" + std::to_string(soft) + ":64"});
  };
  if (unprivileged) {
    // Below the lowest free fd number nothing new fits (fds above it stay open).
    std::set<int> open_now;
    CommandResult listing = RunCommand({"ls", "/proc/" + std::to_string(gatehouse.pid()) + "/fd"});
    std::istringstream names(listing.out);
    std::string name;
    while (names >> name) open_now.insert(std::stoi(name));
    size_t lowest_free = 0;
    while (open_now.count(static_cast<int>(lowest_free)) > 0) ++lowest_free;
    CommandResult lowered = soft_limit(lowest_free);
    ASSERT_EQ(lowered.exit_code, 0) << lowered.err;
  }

  ASSERT_EQ(kill(children[0], SIGSTOP), 0);
  std::vector<int> connections;
  for (int i = 0; i < kConnections; ++i) {
    int fd = ConnectTcp("127.0.0.1", port);
    ASSERT_GE(fd, 0) << i;
    std::string line = std::to_string(i) + "\n";
    ASSERT_EQ(write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    connections.push_back(fd);
  }
  // Let the supervisor accept what it can and run into its limits.
  WaitUntil([] { return false; }, 0.5);
  if (unprivileged) {
    ASSERT_EQ(soft_limit(64).exit_code, 0);
  }
  ASSERT_EQ(kill(children[0], SIGCONT), 0);

  int echoed = 0;
  for (int i = 0; i < kConnections; ++i) {
    std::string line = std::to_string(i) + "\n";
    if (ReadUntil(connections[i], line, 20) == line) ++echoed;
    close(connections[i]);
  }
  EXPECT_EQ(echoed, kConnections) << gatehouse.Log();
  EXPECT_EQ(gatehouse.Log().find("ending the child"), std::string::npos) << gatehouse.Log();
  EXPECT_EQ(ChildPids(gatehouse.pid()), children);  // the same child, never restarted
  if (unprivileged) {
    // The fds run out while the child sleeps: accept pauses instead of spinning,
    // and says so once, not every 100 ms (throttled: one line per 10 s).
    std::string log = gatehouse.Log();
    const std::string pausing = "Too many open files; pausing this listener for 100 ms";
    size_t first = log.find(pausing);
    ASSERT_NE(first, std::string::npos) << log;
    EXPECT_EQ(log.find(pausing, first + pausing.size()), std::string::npos) << log;
  }
}

INSTANTIATE_TEST_SUITE_P(AsRootAndUnprivileged, Backpressure, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Unprivileged" : "Root"; });

}  // namespace
}  // namespace gatehouse::testing
