// Access rules on real connections: a client bound to 127.0.0.2 is refused while
// 127.0.0.1 is served; the refused client's program never runs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

class AccessTest : public GatehouseTest {
 protected:
  ::testing::AssertionResult StartWith(const std::string& rules) {
    return Start("log_level = 3\n",
                 {{"echo.conf", "[echo]\nport = 127.0.0.1:0\nexec = /bin/cat\n" + rules}});
  }
  CommandResult NcFrom(const std::string& source) {
    return RunCommand({"nc", "-N", "-s", source, "127.0.0.1", std::to_string(Port("echo"))},
                      "knock knock\n");
  }
  // A refusal: no reply, gatehouse logs that it denied this very connection, and
  // no program starts for it (a dead server would give no reply either).
  // Returns the log lines written meanwhile.
  std::string ExpectDenied(const std::string& source) {
    LogMark before = gatehouse_->MarkLog();
    EXPECT_EQ(NcFrom(source).out, "");
    EXPECT_TRUE(gatehouse_->WaitForLog("echo: denied " + source + ":", before))
        << gatehouse_->Log();
    std::string meanwhile = gatehouse_->Log(before);
    EXPECT_EQ(meanwhile.find("echo: start " + source), std::string::npos) << meanwhile;
    return meanwhile;
  }
};

TEST_F(AccessTest, CidrAllowServesOnlyThatAddress) {
  ASSERT_TRUE(StartWith("cidr_allow = 127.0.0.1/32\n"));
  EXPECT_EQ(NcFrom("127.0.0.1").out, "knock knock\n");
  ExpectDenied("127.0.0.2");
  EXPECT_EQ(gatehouse_->Log().find("start 127.0.0.2"), std::string::npos) << gatehouse_->Log();
  EXPECT_EQ(NcFrom("127.0.0.1").out, "knock knock\n");
}

TEST_F(AccessTest, DenyRegexRefusesThatAddress) {
  ASSERT_TRUE(StartWith("allow = .*\ndeny = 127\\.0\\.0\\.2\n"));
  ExpectDenied("127.0.0.2");
  EXPECT_EQ(NcFrom("127.0.0.1").out, "knock knock\n");
  EXPECT_EQ(NcFrom("127.0.0.3").out, "knock knock\n");
  EXPECT_EQ(gatehouse_->Log().find("denied 127.0.0.3"), std::string::npos);
  // USR1 counts them: one denied, two served.
  kill(gatehouse_->pid(), SIGUSR1);
  EXPECT_TRUE(gatehouse_->WaitForLog(", served 2, denied 1, failed 0")) << gatehouse_->Log();
}

TEST_F(AccessTest, CidrDenyWinsOverAllow) {
  ASSERT_TRUE(StartWith("cidr_allow = 127.0.0.0/8\ncidr_deny = 127.0.0.2/32\n"));
  ExpectDenied("127.0.0.2");
  EXPECT_EQ(NcFrom("127.0.0.5").out, "knock knock\n");
}

TEST_F(AccessTest, DenyAloneRefusesEveryoneAndWarns) {
  ASSERT_TRUE(StartWith("deny = 10\\..*\n"));
  ExpectDenied("127.0.0.1");
  EXPECT_NE(gatehouse_->Log().find("has deny rules but no allow rules"), std::string::npos)
      << gatehouse_->Log();
}

// /etc/hosts names 127.0.0.1 "localhost", with no DNS query. (Peers without a
// name are in reverse_lookup_test, inside a network namespace of its own.)
TEST_F(AccessTest, HostNameAllowRuleWithReverseLookups) {
  ASSERT_TRUE(StartWith("reverse_lookups = 1\nallow = localhost\n"));
  EXPECT_EQ(NcFrom("127.0.0.1").out, "knock knock\n");
}

TEST_F(AccessTest, HostNameDenyRuleWithReverseLookups) {
  ASSERT_TRUE(StartWith("reverse_lookups = 1\nallow = 127\\.0\\.0\\.1\ndeny = localhost\n"));
  std::string meanwhile = ExpectDenied("127.0.0.1");
  EXPECT_NE(meanwhile.find(" (localhost) on "), std::string::npos) << meanwhile;  // by its name
}

TEST_F(AccessTest, ManyDeniedClientsLeaveTheServiceWorking) {
  ASSERT_TRUE(StartWith("cidr_allow = 127.0.0.1/32\n"));
  int port = Port("echo");
  size_t connected = 0;
  for (int i = 0; i < 200; ++i) {
    int fd = ConnectTcp("127.0.0.1", port, "127.0.0.2");
    if (fd >= 0) {
      ++connected;
      ssize_t ignored = write(fd, "junk", 4);
      (void)ignored;
      close(fd);
    }
  }
  EXPECT_EQ(NcFrom("127.0.0.1").out, "knock knock\n");
  EXPECT_TRUE(gatehouse_->Running());
  // Each of them reached gatehouse and was denied; the lines are throttled (one
  // at once, the rest counted in one line when the 10 s window ends).
  EXPECT_GT(connected, 0u);
  const char* denied = "echo: denied 127.0.0.2:";
  EXPECT_TRUE(WaitUntil([&] { return CountThrottled(gatehouse_->Log(), denied) == connected; }, 15))
      << CountThrottled(gatehouse_->Log(), denied) << " of " << connected;
  EXPECT_LE(Count(gatehouse_->Log(), denied), 2u) << gatehouse_->Log();
}

TEST_F(AccessTest, ClientsThatResetAtOnceDoNotHurt) {
  ASSERT_TRUE(StartWith(""));
  int port = Port("echo");
  for (int i = 0; i < 200; ++i) {
    int fd = ConnectTcp("127.0.0.1", port);
    if (fd < 0) continue;
    linger reset{1, 0};  // close with RST, possibly before gatehouse has accepted
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(fd);
  }
  EXPECT_EQ(NcFrom("127.0.0.1").out, "knock knock\n");
  EXPECT_TRUE(gatehouse_->Running());
  EXPECT_EQ(gatehouse_->Log().find("err:"), std::string::npos) << gatehouse_->Log();
}

}  // namespace
}  // namespace gatehouse::testing
