// reverse_lookups against a DNS server that never answers, inside a network and
// mount namespace of the test's own (loopback only; /etc/resolv.conf bound to
// a file naming a black-hole server on 127.0.0.53). A peer without a name waits
// for the resolver's timeout, and meanwhile every other service keeps serving.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

constexpr const char* kNamespaceSetup =
    "set -e; ip link set lo up; mount --bind \"$1\" /etc/resolv.conf; shift; "
    "timeout 120 socat -u UDP-RECV:53,bind=127.0.0.53 /dev/null & exec \"$@\"";

class ReverseLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "network namespaces need root";
    std::string resolv =
        dir_.Write("resolv.conf", "nameserver 127.0.0.53\noptions timeout:2 attempts:1\n");
    std::string config = WriteConfig(
        dir_, "log_level = 3\n",
        {{"named.conf",
          "[named]\nport = 127.0.0.1:0\nexec = /usr/bin/env\nreverse_lookups = 1\nallow = .*\n"},
         {"hostonly.conf",
          "[hostonly]\nport = 127.0.0.1:0\nexec = /bin/cat\nreverse_lookups = 1\n"
          "allow = localhost\n"},
         {"plain.conf", "[plain]\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
    GatehouseProcess::Launch launch;
    launch.wrapper = {"unshare", "--net",         "--mount", "--",  "sh",
                      "-c",      kNamespaceSetup, "sh",      resolv};
    gatehouse_ = std::make_unique<GatehouseProcess>(std::vector<std::string>{"--config", config},
                                                    dir_.path() + "/gatehouse.log", launch);
    ASSERT_TRUE(gatehouse_->started()) << gatehouse_->Log();
  }
  void TearDown() override {
    if (gatehouse_) {
      for (pid_t pid : ChildPids(gatehouse_->pid())) {
        if (ReadFile("/proc/" + std::to_string(pid) + "/comm").rfind("timeout", 0) == 0) {
          kill(pid, SIGTERM);  // the black-hole DNS server
        }
      }
    }
  }
  // A client inside gatehouse's network namespace.
  CommandResult Nc(const std::string& service, const std::string& source,
                   const std::string& input = "") {
    return RunCommand(
        {"nsenter", "--net=/proc/" + std::to_string(gatehouse_->pid()) + "/ns/net", "nc", "-N",
         "-s", source, "127.0.0.1", std::to_string(gatehouse_->Port(service))},
        input, 20);
  }
  TempDir dir_;
  std::unique_ptr<GatehouseProcess> gatehouse_;
};

TEST_F(ReverseLookupTest, SlowLookupDoesNotStallOtherServices) {
  std::atomic<bool> slow_done{false};
  CommandResult slow;
  std::thread slow_client([&] {
    slow = Nc("named", "127.0.0.2");  // no name in /etc/hosts: asks the black hole
    slow_done = true;
  });
  // Give that client a head start, so its lookup is under way; then, while it
  // hangs, another service must answer: served before the slow one's program starts.
  timespec head_start{0, 500 * 1000 * 1000};
  nanosleep(&head_start, nullptr);
  CommandResult fast = Nc("plain", "127.0.0.2", "not stuck\n");
  std::string log_after_fast = gatehouse_->Log();
  slow_client.join();
  EXPECT_EQ(fast.out, "not stuck\n") << fast.err;
  EXPECT_NE(log_after_fast.find("plain: start 127.0.0.2"), std::string::npos) << log_after_fast;
  EXPECT_EQ(log_after_fast.find("named: start 127.0.0.2"), std::string::npos) << log_after_fast;
  EXPECT_TRUE(slow_done);
  // The slow client is served too, once the resolver gives up: without a name.
  EXPECT_NE(slow.out.find("TCPREMOTEIP=127.0.0.2\n"), std::string::npos) << slow.out;
  EXPECT_EQ(slow.out.find("TCPREMOTEHOST="), std::string::npos) << slow.out;
  EXPECT_NE(slow.out.find("REMOTE_HOST=127.0.0.2\n"), std::string::npos) << slow.out;
}

TEST_F(ReverseLookupTest, HostNameRuleRefusesPeersWithoutAName) {
  EXPECT_EQ(Nc("hostonly", "127.0.0.1", "named\n").out, "named\n");  // localhost
  EXPECT_EQ(Nc("hostonly", "127.0.0.2", "nameless\n").out, "");
  EXPECT_TRUE(gatehouse_->WaitForLog("hostonly: denied 127.0.0.2:")) << gatehouse_->Log();
}

}  // namespace
}  // namespace gatehouse::testing
